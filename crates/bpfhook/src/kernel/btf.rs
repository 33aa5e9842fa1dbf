//! The kernel's BTF for what bpfhook itself looks up: functions that fentry/fexit/LSM/tp_btf
//! programs attach to, and feature probes. Parsed once per process, on first use. (Object
//! loads use the BTF held by the process-wide aya loader; see `manager`.)

use std::os::fd::AsRawFd;
use std::sync::OnceLock;

use aya::{Btf, Endianness};

const VMLINUX: &str = "/sys/kernel/btf/vmlinux";

static KERNEL_BTF: OnceLock<Result<Btf, String>> = OnceLock::new();

#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot read the kernel's BTF from /sys/kernel/btf/vmlinux ({0}); the kernel needs CONFIG_DEBUG_INFO_BTF=y")]
pub struct KernelBtfError(String);

/// The running kernel's BTF.
pub fn kernel_btf() -> Result<&'static Btf, KernelBtfError> {
    KERNEL_BTF
        .get_or_init(|| {
            with_vmlinux_bytes(|bytes| {
                Btf::parse(bytes, Endianness::default()).map_err(|e| e.to_string())
            })
        })
        .as_ref()
        .map_err(|e| KernelBtfError(e.clone()))
}

/// Calls `f` with the raw vmlinux BTF (for parsers other than aya's, like `btf::Btf`). Kernels since 6.16 let the file be mapped, which spares
/// copying ~6 MB through 4 KiB sysfs reads; older ones are read.
pub fn with_vmlinux_bytes<T>(f: impl FnOnce(&[u8]) -> Result<T, String>) -> Result<T, String> {
    let file = std::fs::File::open(VMLINUX).map_err(|e| e.to_string())?;
    let len = file.metadata().map_err(|e| e.to_string())?.len() as usize;
    // SAFETY: a read-only private mapping of a file we keep open until it is unmapped below.
    let map = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_PRIVATE,
            file.as_raw_fd(),
            0,
        )
    };
    if map == libc::MAP_FAILED || len == 0 {
        let bytes = std::fs::read(VMLINUX).map_err(|e| e.to_string())?;
        return f(&bytes);
    }
    // SAFETY: the mapping is `len` readable bytes and lives until munmap below.
    let result = f(unsafe { std::slice::from_raw_parts(map.cast::<u8>(), len) });
    // SAFETY: unmapping exactly what was mapped; no references into it outlive `f`.
    unsafe { libc::munmap(map, len) };
    result
}

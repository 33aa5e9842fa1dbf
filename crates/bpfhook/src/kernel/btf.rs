//! The kernel's BTF for what bpfhook itself looks up: functions that fentry/fexit/LSM/tp_btf
//! programs attach to, and feature probes. Parsed once per process, on first use. (Object
//! loads use the BTF held by the process-wide aya loader; see `manager`.)

use std::sync::OnceLock;

use aya::{Btf, Endianness};

use crate::btf::scan::FileBytes;

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

/// Calls `f` with the raw vmlinux BTF, mapped where the kernel allows it (for parsers other
/// than aya's, like `btf::Btf`).
pub fn with_vmlinux_bytes<T>(f: impl FnOnce(&[u8]) -> Result<T, String>) -> Result<T, String> {
    let bytes = FileBytes::open(std::path::Path::new(VMLINUX)).map_err(|e| e.to_string())?;
    f(bytes.bytes())
}

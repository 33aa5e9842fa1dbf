//! The kernel's BTF, parsed by aya-obj for CO-RE relocations: once per process, on first use,
//! and only when an object has CO-RE relocations (the parse costs ~20 ms and ~13 MB). Lookups
//! by name (attach targets, feature probes) use `btf::scan` instead, which parses nothing.

use std::sync::OnceLock;

use aya::{Btf, Endianness};

use crate::btf::scan::FileBytes;

const VMLINUX: &str = "/sys/kernel/btf/vmlinux";

static KERNEL_BTF: OnceLock<Result<Btf, String>> = OnceLock::new();

#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot read the kernel's BTF from /sys/kernel/btf/vmlinux ({0}); the kernel needs CONFIG_DEBUG_INFO_BTF=y")]
pub struct KernelBtfError(pub(crate) String);

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

//! The kernel's BTF, parsed once per process and shared by every load.
//!
//! aya parses `/sys/kernel/btf/vmlinux` on every `EbpfLoader::load` unless it is handed a `Btf`;
//! that costs tens of milliseconds per object, so every `Manager` borrows this one.

use std::sync::OnceLock;

use aya::Btf;

static KERNEL_BTF: OnceLock<Result<Btf, String>> = OnceLock::new();

#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot read the kernel's BTF from /sys/kernel/btf/vmlinux ({0}); the kernel needs CONFIG_DEBUG_INFO_BTF=y")]
pub struct KernelBtfError(String);

/// The running kernel's BTF.
pub fn kernel_btf() -> Result<&'static Btf, KernelBtfError> {
    KERNEL_BTF
        .get_or_init(|| Btf::from_sys_fs().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| KernelBtfError(e.clone()))
}

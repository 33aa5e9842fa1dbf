//! Addresses to names: kernel addresses through /proc/kallsyms ([`KernelSymbolizer`]), user
//! addresses through a process's mappings and the ELF symbols of the mapped files
//! ([`UserSymbolizer`]). Shared by the tracing language (`ksym`, `usym`, stacks) and the tools.

mod debuginfo;
mod demangle;
pub mod elf;
mod frame_pointers;
mod kernel;
mod lines;
mod maps;
mod table;
mod user;

use std::fmt;

pub use frame_pointers::has_frame_pointers;
pub use kernel::KernelSymbolizer;
pub use lines::{InlinedFrame, SourceInfo, SourceLine};
pub use maps::Mapping;

/// The separate debug file of the binary at `path` (parsed as `binary`): where GDB looks, then
/// in each of `search`; checked to belong to it by build-id or debuglink CRC.
pub fn debug_file(
    path: &std::path::Path,
    binary: &object::File<'_>,
    search: &[std::path::PathBuf],
) -> Option<Vec<u8>> {
    debuginfo::find_in(path, binary, search)
}

/// The executable file mappings of a process, sorted by address; `None` when it is gone.
pub fn process_mappings(pid: u32) -> Option<Vec<Mapping>> {
    maps::read(pid)
}
pub use user::{CacheStats, FileLocation, UserSymbolizer};

/// Where `path`, as process `pid` sees it, is from here: through `/proc/PID/root` when the
/// process is in another mount namespace (a container, `unshare -m`), where the same path may
/// name another file or none; else `path` itself.
pub fn path_in_process(pid: u32, path: &std::path::Path) -> std::path::PathBuf {
    let namespace = |pid: &str| std::fs::read_link(format!("/proc/{pid}/ns/mnt")).ok();
    let theirs = namespace(&pid.to_string());
    match path.strip_prefix("/") {
        Ok(relative) if theirs.is_some() && theirs != namespace("self") => {
            std::path::Path::new(&format!("/proc/{pid}/root")).join(relative)
        }
        _ => path.to_owned(),
    }
}

/// The function an address falls in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Symbol {
    /// Demangled where the name is a C++ or Rust symbol.
    pub name: String,
    /// Bytes from the function's start.
    pub offset: u64,
    /// The kernel module (`None` for the kernel image), or the mapped file's path.
    pub module: Option<String>,
}

impl Symbol {
    /// Just the name, as bpftrace's `usym`/`ksym` print it.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// `name+offset` (decimal), as bpftrace prints stack frames.
impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}+{}", self.name, self.offset)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SymbolizeError {
    #[error("reading {path}: {error}")]
    Io {
        path: String,
        #[source]
        error: std::io::Error,
    },
    #[error(
        "kernel addresses are hidden: kptr_restrict is {kptr_restrict} (needs root with \
         kptr_restrict 0 or 1, or CAP_SYSLOG; see /proc/sys/kernel/kptr_restrict)"
    )]
    KernelAddressesHidden { kptr_restrict: String },
    #[error("/proc/kallsyms is too large to index ({0} bytes)")]
    KallsymsTooLarge(usize),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_name_plus_decimal_offset_and_name_alone() {
        let symbol = Symbol {
            name: "vfs_read".into(),
            offset: 16,
            module: None,
        };
        assert_eq!(symbol.to_string(), "vfs_read+16");
        assert_eq!(symbol.name(), "vfs_read");
    }
}

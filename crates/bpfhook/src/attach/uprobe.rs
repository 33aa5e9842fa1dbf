//! uprobe/uretprobe: resolve the binary (path, $PATH, or a library name through the linker
//! cache) and check the symbol exists before anything is loaded.

use std::fmt;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};

use aya::programs::uprobe::{UProbeAttachLocation, UProbeScope};
use aya::programs::{Program, UProbe};
use object::{Object, ObjectSymbol};

use super::{kernel_error, load_error, typed, AttachError, AttachOptions};
use crate::hook::Hook;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UprobeTarget {
    pub path: PathBuf,
    pub symbol: Option<String>,
    pub offset: u64,
    pub pid: Option<u32>,
    pub ret: bool,
}

impl fmt::Display for UprobeTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.ret { "uretprobe" } else { "uprobe" };
        write!(f, "{kind}:{}:", self.path.display())?;
        match (&self.symbol, self.offset) {
            (Some(symbol), 0) => write!(f, "{symbol}")?,
            (Some(symbol), offset) => write!(f, "{symbol}+{offset:#x}")?,
            (None, offset) => write!(f, "{offset:#x}")?,
        }
        if let Some(pid) = self.pid {
            write!(f, " (pid {pid})")?;
        }
        Ok(())
    }
}

pub(super) fn resolve(hook: &Hook, opts: &AttachOptions) -> Result<UprobeTarget, AttachError> {
    let Hook::Uprobe {
        binary,
        symbol,
        offset,
        ret,
        ..
    } = hook
    else {
        unreachable!("uprobe::resolve called for {hook}");
    };
    let binary = binary
        .as_deref()
        .or(opts.binary.as_deref())
        .ok_or(AttachError::NeedsOption {
            hook: hook.to_string(),
            option: "a binary: SEC(\"uprobe/PATH:FUNCTION\") or --binary PATH",
        })?;
    if symbol.is_none() && *offset == 0 {
        return Err(AttachError::NeedsOption {
            hook: hook.to_string(),
            option: "a function: SEC(\"uprobe/FUNCTION\") or SEC(\"uprobe/PATH:FUNCTION\")",
        });
    }
    let path = find_binary(binary)?;
    if let Some(symbol) = symbol {
        check_symbol(&path, symbol)?;
    }
    if let Some(pid) = opts.pid {
        if !Path::new(&format!("/proc/{pid}")).exists() {
            return Err(AttachError::Missing {
                what: "process",
                name: pid.to_string(),
                hint: String::new(),
            });
        }
    }
    Ok(UprobeTarget {
        path,
        symbol: symbol.clone(),
        offset: *offset,
        pid: opts.pid,
        ret: *ret,
    })
}

/// A path as given; a bare name through $PATH, then the linker cache (`libc` → libc.so.6).
pub fn find_binary(name: &str) -> Result<PathBuf, AttachError> {
    let missing = |hint: &str| AttachError::Missing {
        what: "binary",
        name: name.to_owned(),
        hint: hint.to_owned(),
    };
    if name.contains('/') {
        let path = Path::new(name);
        return if path.is_file() {
            Ok(path.to_path_buf())
        } else {
            Err(missing(""))
        };
    }
    if let Some(path) = search_path(name) {
        return Ok(path);
    }
    linker_cache_lookup(name)
        .ok_or_else(|| missing(" (not a path, not in $PATH, not a library in the linker cache)"))
}

/// The first file called `name` in a `$PATH` directory, as a shell would run it.
pub fn search_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// Looks a library up in `ldconfig -p`: an exact soname, or `NAME` matching `NAME.so*` / `libNAME.so*`.
fn linker_cache_lookup(name: &str) -> Option<PathBuf> {
    let output = ["/sbin/ldconfig", "/usr/sbin/ldconfig", "ldconfig"]
        .iter()
        .find_map(|ldconfig| std::process::Command::new(ldconfig).arg("-p").output().ok())?;
    let listing = String::from_utf8_lossy(&output.stdout);
    let arch_tag = if cfg!(target_pointer_width = "64") {
        "64"
    } else {
        ""
    };
    let entries: Vec<(&str, &str, &str)> = listing
        .lines()
        .filter_map(|line| {
            let (left, path) = line.split_once(" => ")?;
            let (soname, flags) = left.trim().split_once(' ')?;
            Some((soname, flags, path.trim()))
        })
        .collect();
    let matches = |soname: &str| {
        soname == name
            || [name, &format!("lib{name}")].iter().any(|stem| {
                soname
                    .strip_prefix(*stem)
                    .is_some_and(|rest| rest.starts_with(".so"))
            })
    };
    // Prefer the library of this process's word size (`(libc6,x86-64)`).
    entries
        .iter()
        .filter(|(soname, _, _)| matches(soname))
        .max_by_key(|(_, flags, _)| flags.contains(arch_tag))
        .map(|(_, _, path)| PathBuf::from(path))
}

/// The symbol must be in the binary's .symtab or .dynsym.
fn check_symbol(path: &Path, symbol: &str) -> Result<(), AttachError> {
    let io = |error| AttachError::Io {
        action: format!("reading {}", path.display()),
        error,
    };
    let data = std::fs::read(path).map_err(io)?;
    let elf = object::File::parse(&*data).map_err(|e| {
        io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not an ELF file: {e}"),
        ))
    })?;
    let found = elf
        .symbols()
        .chain(elf.dynamic_symbols())
        .any(|s| s.name() == Ok(symbol) && s.address() != 0);
    if found {
        Ok(())
    } else {
        Err(AttachError::Missing {
            what: "symbol",
            name: symbol.to_owned(),
            hint: format!(" in {} (see `nm -D {0}`)", path.display()),
        })
    }
}

pub(super) fn attach(program: &mut Program, target: &UprobeTarget) -> Result<(), AttachError> {
    let p: &mut UProbe = typed(program, "uprobe")?;
    p.load().map_err(load_error)?;
    let location = match &target.symbol {
        Some(symbol) => UProbeAttachLocation::SymbolOffset(symbol, target.offset),
        None => UProbeAttachLocation::AbsoluteOffset(target.offset),
    };
    let scope = match target.pid.and_then(NonZeroU32::new) {
        Some(pid) => UProbeScope::OneProcess(pid),
        None => UProbeScope::AllProcesses,
    };
    p.attach(location, &target.path, scope)
        .map_err(|e| kernel_error(format!("attaching to {target}"), e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_binaries_by_path_by_name_and_libraries_through_the_linker_cache() {
        assert_eq!(find_binary("/bin/sh").ok(), Some(PathBuf::from("/bin/sh")));
        assert!(find_binary("sh").is_ok_and(|p| p.ends_with("sh") && p.is_absolute()));
        let libc = find_binary("libc").expect("libc in the linker cache");
        assert!(
            libc.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("libc.so")),
            "{libc:?}"
        );
        assert_eq!(find_binary("libc.so.6").ok(), Some(libc));
        let missing = find_binary("no-such-library-xyz").unwrap_err().to_string();
        assert!(
            missing.contains("`no-such-library-xyz` does not exist"),
            "{missing}"
        );
    }
}

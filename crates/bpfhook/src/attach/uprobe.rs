//! uprobe/uretprobe: resolve the binary (path, $PATH, or a library name through the linker
//! cache) and check the symbol exists before anything is loaded.

use std::ffi::CString;
use std::fmt;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use super::perf_link::{open_and_attach, ProbePmu};
use super::{AttachError, AttachOptions};
use crate::hook::{Hook, UprobeLocation};
use crate::kernel::features::{self, Feature};
use crate::symbolize::elf::{function_symbols, LoadSegments};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UprobeTarget {
    pub path: PathBuf,
    pub symbol: Option<String>,
    pub offset: u64,
    /// Where the probe goes in the file: the symbol's file offset plus `offset`.
    pub file_offset: u64,
    pub pid: Option<u32>,
    pub ret: bool,
    /// The file offset of the counter (a USDT semaphore) the kernel increments while attached.
    pub ref_ctr_offset: Option<u64>,
}

/// Where the uprobe PMU takes `ref_ctr_offset` in `config` (the kernel's
/// PERF_UPROBE_REF_CTR_OFFSET_SHIFT; `format/ref_ctr_offset` says `config:32-63`).
const REF_CTR_OFFSET_SHIFT: u32 = 32;

impl fmt::Display for UprobeTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.ret { "uretprobe" } else { "uprobe" };
        write!(f, "{kind}:{}:", self.path.display())?;
        match (&self.symbol, self.offset) {
            (Some(symbol), 0) => write!(f, "{symbol}")?,
            (Some(symbol), offset) => write!(f, "{symbol}+{offset:#x}")?,
            (None, offset) => write!(f, "{offset:#x}")?,
        }
        if let Some(offset) = self.ref_ctr_offset {
            write!(f, " (semaphore at {offset:#x})")?;
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
        location,
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
    let location = location.as_ref().ok_or(AttachError::NeedsOption {
        hook: hook.to_string(),
        option: "a function: SEC(\"uprobe/FUNCTION\") or SEC(\"uprobe/PATH:FUNCTION\")",
    })?;
    let path = find_binary(binary)?;
    features::check(Feature::Uprobes)?;
    let place = place(&path, location, opts.unchecked_uprobes)?;
    if *ret && place.offset != 0 {
        return Err(AttachError::Placement(format!(
            "uretprobes cannot be attached at function offset. (address resolved to: {}+{})",
            place.symbol.as_deref().unwrap_or("?"),
            place.offset
        )));
    }
    check_pid(opts.pid)?;
    Ok(UprobeTarget {
        path,
        symbol: place.symbol,
        offset: place.offset,
        file_offset: place.file_offset,
        pid: opts.pid,
        ret: *ret,
        ref_ctr_offset: opts.ref_ctr_offset,
    })
}

/// A uprobe.multi link: one program on many functions of one binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UprobeMultiTarget {
    pub path: PathBuf,
    /// Each function and its file offset, in the order the link's cookies follow.
    pub functions: Vec<(String, u64)>,
    pub pid: Option<u32>,
    pub ret: bool,
}

impl fmt::Display for UprobeMultiTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.ret { "uretprobe" } else { "uprobe" };
        let names: Vec<&str> = self.functions.iter().map(|(n, _)| n.as_str()).collect();
        write!(
            f,
            "{kind}.multi:{}:{{{}}}",
            self.path.display(),
            names.join(",")
        )?;
        if let Some(pid) = self.pid {
            write!(f, " (pid {pid})")?;
        }
        Ok(())
    }
}

/// The functions of a uprobe.multi hook: those the attach options list, else those its glob
/// matches; each checked as a single uprobe's function is.
pub(super) fn resolve_multi(
    hook: &Hook,
    opts: &AttachOptions,
) -> Result<UprobeMultiTarget, AttachError> {
    let Hook::UprobeMulti {
        binary,
        pattern,
        ret,
        ..
    } = hook
    else {
        unreachable!("uprobe::resolve_multi called for {hook}");
    };
    let binary = binary
        .as_deref()
        .or(opts.binary.as_deref())
        .ok_or(AttachError::NeedsOption {
            hook: hook.to_string(),
            option: "a binary: SEC(\"uprobe.multi/PATH:GLOB\") or --binary PATH",
        })?;
    let path = find_binary(binary)?;
    features::check(Feature::UprobeMulti)?;
    let names: Vec<String> = match (pattern, opts.functions.is_empty()) {
        (_, false) => opts.functions.clone(),
        (Some(pattern), true) => matching_functions(&path, pattern)?,
        (None, true) => {
            return Err(AttachError::NeedsOption {
                hook: hook.to_string(),
                option: "functions: SEC(\"uprobe.multi/PATH:GLOB\") or a list in the options",
            })
        }
    };
    let mut functions = Vec::with_capacity(names.len());
    for name in names {
        let location = UprobeLocation::Symbol { name, offset: 0 };
        let place = place(&path, &location, opts.unchecked_uprobes)?;
        let UprobeLocation::Symbol { name, .. } = location else {
            unreachable!()
        };
        functions.push((name, place.file_offset));
    }
    check_pid(opts.pid)?;
    Ok(UprobeMultiTarget {
        path,
        functions,
        pid: opts.pid,
        ret: *ret,
    })
}

/// Function symbols of the file matching `pattern`, each name once.
fn matching_functions(path: &Path, pattern: &str) -> Result<Vec<String>, AttachError> {
    let glob = crate::discover::Glob::new(pattern)
        .map_err(|e| AttachError::Placement(format!("bad function glob: {e}")))?;
    let data = std::fs::read(path).map_err(|error| AttachError::Io {
        action: format!("reading {}", path.display()),
        error,
    })?;
    let elf = object::File::parse(&*data).map_err(|e| AttachError::Io {
        action: format!("reading {}", path.display()),
        error: std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()),
    })?;
    let mut names: Vec<String> = function_symbols(&elf)
        .filter(|s| glob.matches(s.name))
        .map(|s| s.name.to_owned())
        .collect();
    names.sort();
    names.dedup();
    if names.is_empty() {
        return Err(AttachError::Missing {
            what: "function matching",
            name: pattern.to_owned(),
            hint: format!(" in {}", path.display()),
        });
    }
    Ok(names)
}

fn check_pid(pid: Option<u32>) -> Result<(), AttachError> {
    match pid {
        Some(pid) if !Path::new(&format!("/proc/{pid}")).exists() => Err(AttachError::Missing {
            what: "process",
            name: pid.to_string(),
            hint: String::new(),
        }),
        _ => Ok(()),
    }
}

/// Where a uprobe goes: the function (when one is known), the bytes into it, the file offset.
struct Place {
    symbol: Option<String>,
    offset: u64,
    file_offset: u64,
}

/// The hint bpftrace gives with every check `--unsafe` skips.
const UNSAFE_HINT: &str = "Use --unsafe to force attachment. WARNING: This option could lead to \
                           data corruption in the target process.";

/// Resolves the location in the file and checks it as bpftrace does: the function exists, the
/// offset is inside it, its size is known (else only `unchecked`), an address falls in a
/// function (else, `unchecked`, it is taken as it is: a file offset of a file that is not ELF).
fn place(path: &Path, location: &UprobeLocation, unchecked: bool) -> Result<Place, AttachError> {
    let io = |error| AttachError::Io {
        action: format!("reading {}", path.display()),
        error,
    };
    let invalid = |why: String| io(std::io::Error::new(std::io::ErrorKind::InvalidData, why));
    let data = std::fs::read(path).map_err(io)?;
    let elf = object::File::parse(&*data);
    let (symbol, offset) = match (location, &elf) {
        (UprobeLocation::Symbol { name, offset }, Ok(elf)) => {
            let symbol = function_symbols(elf)
                .find(|s| s.name == name)
                .ok_or_else(|| AttachError::Missing {
                    what: "symbol",
                    name: name.clone(),
                    hint: format!(" in {} (see `nm -D {0}`)", path.display()),
                })?;
            (symbol, *offset)
        }
        (UprobeLocation::Symbol { .. }, Err(e)) => {
            return Err(invalid(format!("not an ELF file: {e}")))
        }
        (UprobeLocation::Address(address), elf) => {
            let containing = elf.as_ref().ok().and_then(|elf| {
                function_symbols(elf)
                    .find(|s| (s.address..s.address.saturating_add(s.size)).contains(address))
            });
            match containing {
                Some(symbol) => (symbol, address - symbol.address),
                None if unchecked => {
                    let file_offset = match &elf {
                        Ok(elf) => LoadSegments::of(elf).file_offset(*address),
                        Err(_) => Some(*address),
                    };
                    return Ok(Place {
                        symbol: None,
                        offset: *address,
                        file_offset: file_offset.ok_or_else(|| {
                            invalid(format!("{address:#x} is in no loadable segment"))
                        })?,
                    });
                }
                None => {
                    return Err(AttachError::Placement(format!(
                        "Could not resolve address: {}:{address:#x}",
                        path.display()
                    )))
                }
            }
        }
    };
    if symbol.size == 0 && offset == 0 {
        if !unchecked {
            return Err(AttachError::Placement(format!(
                "Could not determine boundary for {} (symbol has size 0).\n{UNSAFE_HINT}",
                symbol.name
            )));
        }
    } else if offset >= symbol.size {
        return Err(AttachError::Placement(format!(
            "Offset outside the function bounds ('{}' size is {})",
            symbol.name, symbol.size
        )));
    }
    let address = symbol.address + offset;
    let elf = elf.map_err(|e| invalid(format!("not an ELF file: {e}")))?;
    let file_offset = LoadSegments::of(&elf).file_offset(address).ok_or_else(|| {
        invalid(format!(
            "`{}` at {address:#x} is in no loadable segment",
            symbol.name
        ))
    })?;
    Ok(Place {
        symbol: Some(symbol.name.to_owned()),
        offset,
        file_offset,
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

pub(super) fn attach(
    program: BorrowedFd<'_>,
    target: &UprobeTarget,
) -> Result<Vec<OwnedFd>, AttachError> {
    let pmu = ProbePmu::read("uprobe")?;
    let path =
        CString::new(target.path.as_os_str().as_encoded_bytes()).map_err(|_| AttachError::Io {
            action: format!("naming {}", target.path.display()),
            error: std::io::Error::new(std::io::ErrorKind::InvalidInput, "NUL byte in the path"),
        })?;
    let mut attr = pmu.attr(&path, target.file_offset, target.ret);
    if let Some(offset) = target.ref_ctr_offset {
        attr.config |= offset << REF_CTR_OFFSET_SHIFT;
    }
    // One process on any CPU, or every process (perf needs a CPU then; any one will do).
    let (pid, cpu) = match target.pid {
        Some(pid) => (pid as i32, -1),
        None => (-1, 0),
    };
    open_and_attach(program, &attr, pid, cpu, &target.to_string())
}

/// One BPF_TRACE_UPROBE_MULTI link for every function; function `i` gets cookie `i`.
pub(super) fn attach_multi(
    program: BorrowedFd<'_>,
    target: &UprobeMultiTarget,
) -> Result<OwnedFd, AttachError> {
    let path =
        CString::new(target.path.as_os_str().as_encoded_bytes()).map_err(|_| AttachError::Io {
            action: format!("naming {}", target.path.display()),
            error: std::io::Error::new(std::io::ErrorKind::InvalidInput, "NUL byte in the path"),
        })?;
    let offsets: Vec<u64> = target.functions.iter().map(|(_, o)| *o).collect();
    let cookies: Vec<u64> = (0..offsets.len() as u64).collect();
    crate::sys::uprobe_multi_link(
        program,
        &path,
        &offsets,
        &cookies,
        target.pid.unwrap_or(0),
        target.ret,
    )
    .map_err(|e| super::kernel_error(format!("attaching {target}"), e.error))
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

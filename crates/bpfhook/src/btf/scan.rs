//! A quick pass over raw kernel BTF that yields the names of types of chosen kinds (functions,
//! typedefs) without building the type model.
//!
//! Listing and feature probes need only names (and a type's id): the full parser (`crate::btf`)
//! takes ~60 ms and ~15 MB for vmlinux, this walk a few milliseconds over a mapping of the file,
//! which is what lets `bpfhook list` stay well under bpftrace's time. Formatting a single hook
//! uses the full parser.

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use crate::btf::BtfError;

pub(crate) const KIND_STRUCT: u32 = 4;
pub(crate) const KIND_TYPEDEF: u32 = 8;
pub(crate) const KIND_FUNC: u32 = 12;

const MAGIC: u16 = 0xeb9f;
const HEADER_LEN: usize = 24;
const RECORD_LEN: usize = 12;

/// Where the kernel publishes its BTF: `vmlinux`, then one split file per loaded module.
pub(crate) const SYSFS_BTF: &str = "/sys/kernel/btf";

/// A file's bytes, mapped when the file allows it (sysfs BTF does since Linux 6.16) and read
/// otherwise.
pub(crate) struct FileBytes {
    mapping: Option<(*mut libc::c_void, usize)>,
    owned: Vec<u8>,
}

impl FileBytes {
    pub(crate) fn open(path: &Path) -> Result<Self, BtfError> {
        let read_error = |source| BtfError::Read {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(read_error)?;
        let len = file.metadata().map_err(read_error)?.len() as usize;
        if len > 0 {
            // SAFETY: a read-only private mapping of an open file; unmapped in Drop.
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
            if map != libc::MAP_FAILED {
                return Ok(Self {
                    mapping: Some((map, len)),
                    owned: Vec::new(),
                });
            }
        }
        let owned = std::fs::read(path).map_err(read_error)?;
        Ok(Self {
            mapping: None,
            owned,
        })
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        match self.mapping {
            // SAFETY: the mapping is `len` readable bytes and lives as long as `self`.
            Some((map, len)) => unsafe { std::slice::from_raw_parts(map.cast::<u8>(), len) },
            None => &self.owned,
        }
    }
}

impl Drop for FileBytes {
    fn drop(&mut self) {
        if let Some((map, len)) = self.mapping.take() {
            // SAFETY: unmapping exactly what `open` mapped; no borrow of it outlives `self`.
            unsafe { libc::munmap(map, len) };
        }
    }
}

/// vmlinux's BTF and that of every loaded module.
pub(crate) struct KernelBtfFiles {
    pub vmlinux: FileBytes,
    /// (module name, its split BTF), sorted by name.
    pub modules: Vec<(String, FileBytes)>,
}

impl KernelBtfFiles {
    pub(crate) fn open() -> Result<Self, BtfError> {
        let dir = Path::new(SYSFS_BTF);
        let vmlinux = FileBytes::open(&dir.join("vmlinux"))?;
        let mut modules = Vec::new();
        // Without module BTF (no modules, or CONFIG_DEBUG_INFO_BTF_MODULES off) the directory
        // holds vmlinux alone; an unreadable directory only costs the modules.
        let entries = std::fs::read_dir(dir).into_iter().flatten().flatten();
        for entry in entries {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == "vmlinux" {
                continue;
            }
            let path: PathBuf = entry.path();
            match FileBytes::open(&path) {
                Ok(bytes) => modules.push((name, bytes)),
                Err(e) => log::warn!("skipping module BTF {}: {e}", path.display()),
            }
        }
        modules.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(Self { vmlinux, modules })
    }

    /// Calls `each(module, kind, name)` for every named type of a `wanted` kind: vmlinux's
    /// first (module `None`), then each module's own types.
    pub(crate) fn for_each_name<'s>(
        &'s self,
        wanted: &[u32],
        mut each: impl FnMut(Option<&'s str>, u32, &'s str),
    ) -> Result<(), BtfError> {
        let base = RawLayer::parse(self.vmlinux.bytes())?;
        base.for_each_name(None, wanted, |_, kind, name| each(None, kind, name))?;
        for (module, bytes) in &self.modules {
            let layer = match RawLayer::parse(bytes.bytes()) {
                Ok(layer) => layer,
                Err(e) => {
                    log::warn!("skipping module BTF {module}: {e}");
                    continue;
                }
            };
            layer.for_each_name(Some(base.strings), wanted, |_, kind, name| {
                each(Some(module), kind, name)
            })?;
        }
        Ok(())
    }
}

/// The id of vmlinux's first type of `kind` named `name`, without parsing the whole BTF.
pub(crate) fn vmlinux_type_id(kind: u32, name: &str) -> Result<Option<u32>, BtfError> {
    let vmlinux = FileBytes::open(&Path::new(SYSFS_BTF).join("vmlinux"))?;
    let mut found = None;
    RawLayer::parse(vmlinux.bytes())?.for_each_name(None, &[kind], |id, _, n| {
        if found.is_none() && n == name {
            found = Some(id);
        }
    })?;
    Ok(found)
}

/// One BTF blob's type and string sections.
struct RawLayer<'a> {
    types: &'a [u8],
    strings: &'a [u8],
    big_endian: bool,
}

impl<'a> RawLayer<'a> {
    fn parse(bytes: &'a [u8]) -> Result<Self, BtfError> {
        let truncated = |what, start, end| BtfError::Truncated {
            what,
            start,
            end,
            len: bytes.len(),
        };
        let head = bytes
            .get(..HEADER_LEN)
            .ok_or(truncated("header", 0, HEADER_LEN))?;
        let big_endian = match u16::from_le_bytes([head[0], head[1]]) {
            MAGIC => false,
            m if m.swap_bytes() == MAGIC => true,
            found => return Err(BtfError::BadMagic { found }),
        };
        let word = |at: usize| read_u32(head, at, big_endian) as usize;
        let header_len = word(4);
        let section = |what, off: usize, len: usize| {
            let start = header_len.saturating_add(off);
            let end = start.saturating_add(len);
            bytes.get(start..end).ok_or(truncated(what, start, end))
        };
        Ok(Self {
            types: section("type section", word(8), word(12))?,
            strings: section("string section", word(16), word(20))?,
            big_endian,
        })
    }

    /// Walks the records, calling `each(type id, kind, name)`; names of split BTF below the base's
    /// string length live in the base. (Ids of split BTF are relative to the layer.)
    fn for_each_name(
        &self,
        base_strings: Option<&'a [u8]>,
        wanted: &[u32],
        mut each: impl FnMut(u32, u32, &'a str),
    ) -> Result<(), BtfError> {
        let base_len = base_strings.map_or(0, <[u8]>::len);
        let mut at = 0;
        let mut index: u32 = 0;
        while at < self.types.len() {
            index += 1;
            let record = self
                .types
                .get(at..at + RECORD_LEN)
                .ok_or(BtfError::TruncatedType { id: index })?;
            let name_off = read_u32(record, 0, self.big_endian) as usize;
            let info = read_u32(record, 4, self.big_endian);
            let kind = (info >> 24) & 0x1f;
            let vlen = (info & 0xffff) as usize;
            let extra = match kind {
                1 | 14 | 17 => 4,
                3 => 12,
                4 | 5 | 15 | 19 => 12 * vlen,
                6 | 13 => 8 * vlen,
                2 | 7..=12 | 16 | 18 => 0,
                _ => return Err(BtfError::UnknownKind { id: index, kind }),
            };
            if name_off != 0 && wanted.contains(&kind) {
                let name = match base_strings {
                    Some(base) if name_off < base_len => c_string(base, name_off),
                    _ => c_string(self.strings, name_off - base_len),
                };
                if let Some(name) = name {
                    each(index, kind, name);
                }
            }
            at += RECORD_LEN + extra;
        }
        Ok(())
    }
}

fn read_u32(bytes: &[u8], at: usize, big_endian: bool) -> u32 {
    let word = [bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]];
    if big_endian {
        u32::from_be_bytes(word)
    } else {
        u32::from_le_bytes(word)
    }
}

/// The NUL-terminated UTF-8 string at `offset`, if there is one.
fn c_string(strings: &[u8], offset: usize) -> Option<&str> {
    let tail = strings.get(offset..)?;
    let end = tail.iter().position(|&b| b == 0)?;
    std::str::from_utf8(&tail[..end]).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btf::{Btf, BtfKind, TypeKind};

    /// The quick walk must see exactly the functions the full parser sees.
    #[test]
    fn finds_the_same_functions_as_the_full_parser() {
        let files = KernelBtfFiles::open().expect("kernel BTF");
        let mut quick = Vec::new();
        files
            .for_each_name(&[KIND_FUNC], |module, kind, name| {
                if module.is_none() {
                    assert_eq!(kind, KIND_FUNC);
                    quick.push(name.to_owned());
                }
            })
            .expect("scan");
        let btf = Btf::from_file("/sys/kernel/btf/vmlinux").expect("parse");
        let full: Vec<String> = btf
            .own_ids()
            .filter_map(|id| btf.type_by_id(id).map(|t| (id, t)))
            .filter(|(_, t)| matches!(t.kind, TypeKind::Func { .. }))
            .map(|(id, _)| btf.type_name(id).to_owned())
            .collect();
        assert_eq!(quick, full);
        assert!(btf.find_by_name(BtfKind::Func, "do_sys_openat2").is_some());
    }

    #[test]
    fn refuses_what_is_not_btf() {
        assert!(matches!(
            RawLayer::parse(b"not btf at all, just some text"),
            Err(BtfError::BadMagic { .. })
        ));
        assert!(matches!(
            RawLayer::parse(&[0x9f, 0xeb, 1, 0]),
            Err(BtfError::Truncated { .. })
        ));
        // A header whose sections point past the end.
        let mut header = vec![0x9f, 0xeb, 1, 0];
        for word in [24u32, 0, 1000, 1000, 10] {
            header.extend_from_slice(&word.to_le_bytes());
        }
        assert!(matches!(
            RawLayer::parse(&header),
            Err(BtfError::Truncated { .. })
        ));
    }
}

//! /proc/PID/maps: the executable, file-backed mappings of a process.

use std::path::PathBuf;

/// One executable mapping of a file: `[start, end)` in the process shows the file from `offset`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mapping {
    pub start: u64,
    pub end: u64,
    pub offset: u64,
    /// `major:minor` of the file's device, as maps prints it (hex).
    pub device: (u32, u32),
    pub inode: u64,
    /// The path as the process sees it (` (deleted)` removed).
    pub path: PathBuf,
}

impl Mapping {
    /// Parses `55d0c5a00000-55d0c5a1e000 r-xp 00002000 fd:01 1048602 /usr/bin/cat`; `None` for
    /// mappings that are not executable or not backed by a file (heap, stack, `[vdso]`).
    pub fn parse(line: &str) -> Option<Self> {
        let mut fields = line.splitn(6, ' ');
        let (start, end) = fields.next()?.split_once('-')?;
        let perms = fields.next()?;
        let offset = fields.next()?;
        let (major, minor) = fields.next()?.split_once(':')?;
        let inode = fields.next()?.parse().ok()?;
        let path = fields.next()?.trim_start();
        if perms.as_bytes().get(2) != Some(&b'x') || inode == 0 || !path.starts_with('/') {
            return None;
        }
        let hex = |field: &str| u64::from_str_radix(field, 16).ok();
        Some(Self {
            start: hex(start)?,
            end: hex(end)?,
            offset: hex(offset)?,
            device: (
                u32::from_str_radix(major, 16).ok()?,
                u32::from_str_radix(minor, 16).ok()?,
            ),
            inode,
            path: PathBuf::from(path.strip_suffix(" (deleted)").unwrap_or(path)),
        })
    }

    /// Where `address` (inside the mapping) lies in the file.
    pub fn file_offset(&self, address: u64) -> Option<u64> {
        (self.start..self.end)
            .contains(&address)
            .then(|| address - self.start + self.offset)
    }
}

/// The executable file mappings of `pid`, sorted by address; `None` when the process is gone
/// (or its maps unreadable, or empty: an exited process not yet reaped shows none).
pub(crate) fn read(pid: u32) -> Option<Vec<Mapping>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/maps")).ok()?;
    let mut mappings: Vec<Mapping> = text.lines().filter_map(Mapping::parse).collect();
    mappings.sort_unstable_by_key(|m| m.start);
    (!mappings.is_empty()).then_some(mappings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_executable_file_mappings_only() {
        let text = Mapping::parse(
            "55d0c5a00000-55d0c5a1e000 r-xp 00002000 fd:01 1048602   /usr/bin/my cat (deleted)",
        )
        .expect("text mapping");
        assert_eq!(text.path, PathBuf::from("/usr/bin/my cat"));
        assert_eq!((text.device, text.inode), ((0xfd, 1), 1048602));
        assert_eq!(text.file_offset(0x55d0c5a00010), Some(0x2010));
        assert_eq!(text.file_offset(0x55d0c5a1e000), None);
        for other in [
            "55d0c5a1e000-55d0c5a20000 r--p 00020000 fd:01 1048602 /usr/bin/cat",
            "7ffd1b5f0000-7ffd1b5f2000 r-xp 00000000 00:00 0 [vdso]",
            "7f0000000000-7f0000001000 rwxp 00000000 00:00 0",
            "garbage",
        ] {
            assert_eq!(Mapping::parse(other), None, "{other}");
        }
    }
}

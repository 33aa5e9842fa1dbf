//! Finding the separate debug file of a stripped binary, where GDB looks: by build-id under
//! /usr/lib/debug/.build-id, then the `.gnu_debuglink` name beside the binary, in `.debug/`
//! beside it, and under /usr/lib/debug/ followed by the binary's directory; then in the
//! directories a user names (bpftrace's `--debuginfo`; relative ones from the working
//! directory, then from the binary's), by build-id, debuglink or `NAME.debug`.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use object::Object;

const DEBUG_ROOT: &str = "/usr/lib/debug";

/// The debug file's contents, checked to belong to the binary: the same build-id, or (without
/// one) the CRC the debuglink records.
pub(crate) fn find(binary_path: &Path, binary: &object::File<'_>) -> Option<Vec<u8>> {
    find_in(binary_path, binary, &[])
}

/// As [`find`], then in each of `search` (directories) too.
pub(crate) fn find_in(
    binary_path: &Path,
    binary: &object::File<'_>,
    search: &[PathBuf],
) -> Option<Vec<u8>> {
    let build_id = binary.build_id().ok().flatten();
    let debuglink = binary.gnu_debuglink().ok().flatten();
    let by_build_id = build_id.filter(|id| id.len() > 1).map(|id| {
        let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
        format!(".build-id/{}/{}.debug", &hex[..2], &hex[2..])
    });
    let link_name = debuglink.map(|(name, _)| Path::new(OsStr::from_bytes(name)));
    let mut candidates = Vec::new();
    if let Some(by_build_id) = &by_build_id {
        candidates.push(Path::new(DEBUG_ROOT).join(by_build_id));
    }
    if let Some(name) = link_name {
        let dir = binary_path.parent().unwrap_or(Path::new("/"));
        candidates.push(dir.join(name));
        candidates.push(dir.join(".debug").join(name));
        let relative = dir.strip_prefix("/").unwrap_or(dir);
        candidates.push(Path::new(DEBUG_ROOT).join(relative).join(name));
    }
    let own_name = binary_path.file_name().map(|name| {
        let mut name = name.to_owned();
        name.push(".debug");
        name
    });
    // A relative directory counts from the working directory, then from the binary's.
    let binary_dir = binary_path.parent().unwrap_or(Path::new(""));
    let search = search.iter().flat_map(|dir| {
        let beside = dir.is_relative().then(|| binary_dir.join(dir));
        std::iter::once(dir.clone()).chain(beside)
    });
    for dir in search {
        candidates.extend(by_build_id.as_ref().map(|p| dir.join(p)));
        candidates.extend(link_name.map(|name| dir.join(name)));
        candidates.extend(own_name.as_ref().map(|name| dir.join(name)));
    }
    candidates
        .iter()
        .filter(|candidate| candidate.as_path() != binary_path)
        .filter_map(|candidate| std::fs::read(candidate).ok())
        .find(|data| belongs(data, build_id, debuglink.map(|(_, crc)| crc)))
}

fn belongs(data: &[u8], build_id: Option<&[u8]>, crc: Option<u32>) -> bool {
    let Ok(debug) = object::File::parse(data) else {
        return false;
    };
    match (build_id, debug.build_id().ok().flatten()) {
        (Some(ours), Some(theirs)) => ours == theirs,
        _ => crc.is_some_and(|crc| crc32fast::hash(data) == crc),
    }
}

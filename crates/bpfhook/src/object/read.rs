//! Bounds-checked little-endian reads from an object's bytes, shared by the validator and the
//! section renamer: `None` when the read would leave the slice.

pub(super) fn range(b: &[u8], off: usize, len: usize) -> Option<&[u8]> {
    b.get(off..off.checked_add(len)?)
}

fn array<const N: usize>(b: &[u8], off: usize) -> Option<[u8; N]> {
    range(b, off, N)?.try_into().ok()
}

pub(super) fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    array(b, off).map(u16::from_le_bytes)
}

pub(super) fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    array(b, off).map(u32::from_le_bytes)
}

pub(super) fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    array(b, off).map(u64::from_le_bytes)
}

/// The NUL-terminated UTF-8 string starting at `offset` of a string table.
pub(super) fn cstr_at(table: &[u8], offset: usize) -> Option<&str> {
    let rest = table.get(offset..)?;
    let len = rest.iter().position(|&b| b == 0)?;
    std::str::from_utf8(&rest[..len]).ok()
}

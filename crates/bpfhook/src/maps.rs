//! Byte-level map access shared by run and inspect: a map's kernel id, its keys, the per-CPU
//! value layout, and hex as bpftool prints it.

use std::os::fd::BorrowedFd;

use aya::maps::{Map, MapData};

use crate::sys;

/// The map's kernel id (what `bpfhook map show ID` and `inspect` take).
pub fn id(map: &Map) -> Option<u32> {
    map_data(map).info().ok().map(|info| info.id())
}

/// The map's fd, whatever its type.
pub fn fd(map: &Map) -> BorrowedFd<'_> {
    use std::os::fd::AsFd;
    map_data(map).fd().as_fd()
}

/// Every key of a map, in the kernel's iteration order.
pub fn keys(map: BorrowedFd<'_>, key_size: usize) -> Result<Vec<Vec<u8>>, sys::SyscallError> {
    let mut keys: Vec<Vec<u8>> = Vec::new();
    let mut next = vec![0u8; key_size];
    while sys::map_next_key(map, keys.last().map(Vec::as_slice), &mut next)? {
        keys.push(next.clone());
    }
    Ok(keys)
}

/// Every entry of a map, read in batches where the kernel can (one syscall per few hundred
/// entries), else key by key. `value_len` is what one lookup fills (see [`value_slot`]).
pub struct Entries {
    pub keys: Vec<u8>,
    pub values: Vec<u8>,
    pub key_size: usize,
    pub value_len: usize,
}

impl Entries {
    fn empty(key_size: usize, value_len: usize) -> Self {
        Entries {
            keys: Vec::new(),
            values: Vec::new(),
            key_size,
            value_len,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.keys
            .chunks_exact(self.key_size.max(1))
            .zip(self.values.chunks_exact(self.value_len.max(1)))
    }
}

/// Entries per batch call; a hash bucket holding more makes the call fail with ENOSPC, and
/// the read falls back to single lookups.
const BATCH: usize = 256;

pub fn entries(
    map: BorrowedFd<'_>,
    key_size: usize,
    value_len: usize,
) -> Result<Entries, sys::SyscallError> {
    match entries_in_batches(map, key_size, value_len) {
        Ok(entries) => Ok(entries),
        // EINVAL/ENOTSUPP: the map type (or kernel, before 5.6) has no batch lookup; ENOSPC: a
        // bucket larger than a batch.
        Err(e)
            if matches!(
                e.error.raw_os_error(),
                Some(libc::EINVAL | libc::ENOSPC | 524)
            ) =>
        {
            entries_one_by_one(map, key_size, value_len)
        }
        Err(e) => Err(e),
    }
}

fn entries_in_batches(
    map: BorrowedFd<'_>,
    key_size: usize,
    value_len: usize,
) -> Result<Entries, sys::SyscallError> {
    let mut out = Entries::empty(key_size, value_len);
    // The cursor is a u32 bucket index for hash maps and a key for arrays.
    let token = key_size.max(8);
    let (mut cursor, mut next) = (vec![0u8; token], vec![0u8; token]);
    let mut first = true;
    loop {
        let (k0, v0) = (out.keys.len(), out.values.len());
        out.keys.resize(k0 + BATCH * key_size, 0);
        out.values.resize(v0 + BATCH * value_len, 0);
        let (copied, more) = sys::map_lookup_batch(
            map,
            (!first).then_some(cursor.as_slice()),
            &mut next,
            &mut out.keys[k0..],
            &mut out.values[v0..],
            BATCH as u32,
        )?;
        out.keys.truncate(k0 + copied as usize * key_size);
        out.values.truncate(v0 + copied as usize * value_len);
        if !more {
            return Ok(out);
        }
        std::mem::swap(&mut cursor, &mut next);
        first = false;
    }
}

fn entries_one_by_one(
    map: BorrowedFd<'_>,
    key_size: usize,
    value_len: usize,
) -> Result<Entries, sys::SyscallError> {
    let mut out = Entries::empty(key_size, value_len);
    let mut value = vec![0u8; value_len];
    for key in keys(map, key_size)? {
        // A key deleted since it was listed is skipped.
        if sys::map_lookup(map, &key, &mut value)? {
            out.keys.extend_from_slice(&key);
            out.values.extend_from_slice(&value);
        }
    }
    Ok(out)
}

/// Map types with one value per possible CPU (per-CPU hash, array, LRU hash, cgroup storage).
pub fn is_per_cpu(map_type: u32) -> bool {
    [5, 6, 10, 21].contains(&map_type)
}

/// Bytes one value takes in a lookup buffer: per-CPU values sit in 8-byte slots, one per
/// possible CPU.
pub fn value_slot(value_size: usize, per_cpu: bool) -> usize {
    if per_cpu {
        value_size.next_multiple_of(8)
    } else {
        value_size
    }
}

/// The map's kernel object, whatever its type.
fn map_data(map: &Map) -> &MapData {
    match map {
        Map::Array(m)
        | Map::ArrayOfMaps(m)
        | Map::BloomFilter(m)
        | Map::CgroupArray(m)
        | Map::CgroupStorage(m)
        | Map::CgrpStorage(m)
        | Map::CpuMap(m)
        | Map::DevMap(m)
        | Map::DevMapHash(m)
        | Map::HashMap(m)
        | Map::HashOfMaps(m)
        | Map::InodeStorage(m)
        | Map::LpmTrie(m)
        | Map::LruHashMap(m)
        | Map::PerCpuArray(m)
        | Map::PerCpuCgroupStorage(m)
        | Map::PerCpuHashMap(m)
        | Map::PerCpuLruHashMap(m)
        | Map::PerfEventArray(m)
        | Map::ProgramArray(m)
        | Map::Queue(m)
        | Map::RingBuf(m)
        | Map::ReusePortSockArray(m)
        | Map::SockHash(m)
        | Map::SockMap(m)
        | Map::SkStorage(m)
        | Map::Stack(m)
        | Map::StackTraceMap(m)
        | Map::Unsupported(m)
        | Map::XskMap(m) => m,
    }
}

/// `de ad be ef` — bpftool's hex layout.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&format!("{b:02x}"));
    }
    out
}

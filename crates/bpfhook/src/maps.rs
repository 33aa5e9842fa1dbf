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

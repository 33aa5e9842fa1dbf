//! Reading a map's entries as bytes, whatever its key and value sizes, for printing at exit.

use std::os::fd::{AsFd, BorrowedFd};

use aya::maps::{Map, MapData, MapType};

use crate::sys;

/// Every entry of one map. Per-CPU maps hold one value per possible CPU in `per_cpu`.
#[derive(Debug, Clone)]
pub struct MapDump {
    pub name: String,
    pub map_type: MapType,
    pub key_size: u32,
    pub value_size: u32,
    pub entries: Vec<MapEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapEntry {
    pub key: Vec<u8>,
    /// One value, or one per possible CPU for per-CPU maps.
    pub values: Vec<Vec<u8>>,
}

#[derive(Debug, thiserror::Error)]
pub enum MapDumpError {
    #[error("map `{name}`: {source}")]
    Info {
        name: String,
        source: aya::maps::MapError,
    },
    #[error("map `{name}`: {source}")]
    Syscall {
        name: String,
        source: sys::SyscallError,
    },
    #[error("cannot count possible CPUs ({0})")]
    Cpus(String),
}

/// Whether a map type holds key/value entries user space can read (not rings, prog arrays…).
pub fn is_dumpable(map_type: MapType) -> bool {
    use MapType::*;
    matches!(
        map_type,
        Hash | Array | PerCpuHash | PerCpuArray | LruHash | LruPerCpuHash | LpmTrie
    )
}

fn is_per_cpu(map_type: MapType) -> bool {
    matches!(
        map_type,
        MapType::PerCpuHash | MapType::PerCpuArray | MapType::LruPerCpuHash
    )
}

/// Reads every entry of a dumpable map; `None` for map types without readable entries.
pub fn dump(name: &str, map: &Map) -> Result<Option<MapDump>, MapDumpError> {
    let data = map_data(map);
    let info = data.info().map_err(|source| MapDumpError::Info {
        name: name.to_owned(),
        source,
    })?;
    let map_type = info.map_type().map_err(|source| MapDumpError::Info {
        name: name.to_owned(),
        source,
    })?;
    if !is_dumpable(map_type) {
        return Ok(None);
    }
    let (key_size, value_size) = (info.key_size(), info.value_size());
    let cpus = if is_per_cpu(map_type) {
        aya::util::nr_cpus().map_err(|(path, e)| MapDumpError::Cpus(format!("{path}: {e}")))?
    } else {
        1
    };
    let slot = value_slot(value_size as usize, cpus > 1);
    let fd = data.fd().as_fd();
    let syscall = |source| MapDumpError::Syscall {
        name: name.to_owned(),
        source,
    };
    let mut entries = Vec::new();
    let mut value = vec![0u8; slot * cpus];
    for key in keys(fd, key_size as usize).map_err(syscall)? {
        // An entry deleted between next_key and lookup is simply skipped.
        if sys::map_lookup(fd, &key, &mut value).map_err(syscall)? {
            let values = value
                .chunks(slot)
                .map(|v| v[..value_size as usize].to_vec())
                .collect();
            entries.push(MapEntry { key, values });
        }
    }
    Ok(Some(MapDump {
        name: name.to_owned(),
        map_type,
        key_size,
        value_size,
        entries,
    }))
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

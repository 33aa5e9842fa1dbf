//! Maps by id: bpftool's `map show` fields, every entry, and lookup/update/delete by key, with
//! keys and values typed through the map's BTF when it has one.

use crate::names;
use std::os::fd::{AsFd, OwnedFd};

use serde::Serialize;

use super::holders::{Holder, Holders};
use super::{ids, info_error, memlock, open, InspectError};
use crate::btf::{Btf, TypeId};
use crate::decode::{self as typed, ParseError, Value};
use crate::sys::{self, bpf_map_info, ObjectKind};

/// One map, with bpftool's JSON field names.
#[derive(Debug, Clone, Serialize)]
pub struct MapInfo {
    pub id: u32,
    #[serde(rename = "type")]
    pub map_type: String,
    pub name: String,
    pub flags: u32,
    pub bytes_key: u32,
    pub bytes_value: u32,
    pub max_entries: u32,
    pub bytes_memlock: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub btf_id: Option<u32>,
    pub pids: Vec<Holder>,
}

/// Every map, in id order. Maps freed during the listing are skipped.
pub fn list_maps() -> Result<Vec<MapInfo>, InspectError> {
    let holders = Holders::scan();
    let mut maps = Vec::new();
    for id in ids(ObjectKind::Map)? {
        match map_with(id, &holders) {
            Ok(m) => maps.push(m),
            Err(InspectError::NotFound { .. }) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(maps)
}

/// One map by id.
pub fn map(id: u32) -> Result<MapInfo, InspectError> {
    map_with(id, &Holders::scan())
}

fn map_with(id: u32, holders: &Holders) -> Result<MapInfo, InspectError> {
    let fd = open(ObjectKind::Map, id)?;
    let info = sys::map_info(fd.as_fd()).map_err(info_error(ObjectKind::Map, id))?;
    Ok(MapInfo {
        id: info.id,
        map_type: names::map_type(info.type_),
        name: super::c_name(&info.name),
        flags: info.map_flags,
        bytes_key: info.key_size,
        bytes_value: info.value_size,
        max_entries: info.max_entries,
        bytes_memlock: memlock(&fd),
        btf_id: (info.btf_id != 0).then_some(info.btf_id),
        pids: holders.of(ObjectKind::Map, id),
    })
}

/// One entry, typed. Per-CPU maps have one value per possible CPU in `values`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MapEntryView {
    pub key: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<CpuValue>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CpuValue {
    pub cpu: usize,
    pub value: Value,
}

/// A map's entries.
#[derive(Debug, Clone, Serialize)]
pub struct MapDump {
    pub id: u32,
    pub name: String,
    pub entries: Vec<MapEntryView>,
}

/// An open map with what is needed to read and write it: sizes, CPU count, and its BTF.
pub struct OpenMap {
    id: u32,
    fd: OwnedFd,
    info: bpf_map_info,
    cpus: usize,
    btf: Option<Btf>,
}

/// Map types whose entries user space reads and writes by key.
const KEYED: &[u32] = &[1, 2, 5, 6, 9, 10, 11, 12, 13, 14, 16, 25];

impl OpenMap {
    pub fn open(id: u32) -> Result<OpenMap, InspectError> {
        let fd = open(ObjectKind::Map, id)?;
        let info = sys::map_info(fd.as_fd()).map_err(info_error(ObjectKind::Map, id))?;
        if !KEYED.contains(&info.type_) || info.key_size == 0 {
            return Err(InspectError::NotKeyed {
                id,
                map_type: names::map_type(info.type_),
            });
        }
        let cpus = if crate::maps::is_per_cpu(info.type_) {
            aya::util::nr_cpus().map_err(|(path, e)| InspectError::Cpus(format!("{path}: {e}")))?
        } else {
            1
        };
        let btf = if info.btf_id != 0 && (info.btf_key_type_id != 0 || info.btf_value_type_id != 0)
        {
            load_btf(info.btf_id)
        } else {
            None
        };
        Ok(OpenMap {
            id,
            fd,
            info,
            cpus,
            btf,
        })
    }

    pub fn has_btf(&self) -> bool {
        self.btf.is_some()
    }

    /// `bytes` decoded as the map's value type (hex when the map has no BTF).
    pub fn decode_value(&self, bytes: &[u8]) -> Value {
        typed::decode(self.btf.as_ref(), self.value_type(), bytes)
    }

    fn per_cpu(&self) -> bool {
        crate::maps::is_per_cpu(self.info.type_)
    }

    fn slot(&self) -> usize {
        crate::maps::value_slot(self.info.value_size as usize, self.per_cpu())
    }

    fn key_type(&self) -> TypeId {
        self.info.btf_key_type_id
    }

    fn value_type(&self) -> TypeId {
        self.info.btf_value_type_id
    }

    fn syscall(&self, what: &str) -> impl FnOnce(sys::SyscallError) -> InspectError {
        let what = format!("{what} map {}", self.id);
        move |source| InspectError::Syscall { what, source }
    }

    /// Every entry. Entries deleted between finding a key and reading it are skipped.
    pub fn dump(&self) -> Result<MapDump, InspectError> {
        let mut entries = Vec::new();
        let keys = crate::maps::keys(self.fd.as_fd(), self.info.key_size as usize)
            .map_err(self.syscall("iterating"))?;
        for key in keys {
            if let Some(entry) = self.read(&key)? {
                entries.push(entry);
            }
        }
        Ok(MapDump {
            id: self.id,
            name: super::c_name(&self.info.name),
            entries,
        })
    }

    /// The entry for a key given as text; a missing key is [`InspectError::NoSuchKey`].
    pub fn lookup(&self, key_text: &str) -> Result<MapEntryView, InspectError> {
        let key = self.parse_key(key_text)?;
        self.read(&key)?.ok_or_else(|| InspectError::NoSuchKey {
            id: self.id,
            key: key_text.trim().to_owned(),
        })
    }

    /// Creates or replaces an entry. A per-CPU map gets the same value on every CPU.
    pub fn update(&self, key_text: &str, value_text: &str) -> Result<(), InspectError> {
        let key = self.parse_key(key_text)?;
        let one = self.parse(value_text, "VALUE", self.info.value_size, self.value_type())?;
        let slot = self.slot();
        let mut value = vec![0u8; slot * self.cpus];
        for chunk in value.chunks_mut(slot) {
            chunk[..one.len()].copy_from_slice(&one);
        }
        sys::map_update(self.fd.as_fd(), &key, &value, 0).map_err(self.syscall("updating"))
    }

    /// Deletes an entry; a missing key is [`InspectError::NoSuchKey`].
    pub fn delete(&self, key_text: &str) -> Result<(), InspectError> {
        let key = self.parse_key(key_text)?;
        if sys::map_delete(self.fd.as_fd(), &key).map_err(self.syscall("deleting from"))? {
            Ok(())
        } else {
            Err(InspectError::NoSuchKey {
                id: self.id,
                key: key_text.trim().to_owned(),
            })
        }
    }

    fn parse_key(&self, text: &str) -> Result<Vec<u8>, InspectError> {
        self.parse(text, "KEY", self.info.key_size, self.key_type())
    }

    fn parse(
        &self,
        text: &str,
        what: &'static str,
        size: u32,
        type_id: TypeId,
    ) -> Result<Vec<u8>, InspectError> {
        let btf = self.btf.as_ref();
        typed::parse_input(text, size as usize, btf, type_id).map_err(|e| match e {
            ParseError::Malformed(reason) => InspectError::BadBytes {
                what,
                text: text.to_owned(),
                reason,
                decimal_allowed: typed::integer_type(btf, type_id, size as usize).is_some(),
            },
            ParseError::Size { got } => InspectError::WrongSize {
                what,
                id: self.id,
                got,
                expected: size as usize,
            },
        })
    }

    fn read(&self, key: &[u8]) -> Result<Option<MapEntryView>, InspectError> {
        let slot = self.slot();
        let value_size = self.info.value_size as usize;
        let mut value = vec![0u8; slot * self.cpus];
        if !sys::map_lookup(self.fd.as_fd(), key, &mut value).map_err(self.syscall("reading"))? {
            return Ok(None);
        }
        let btf = self.btf.as_ref();
        let decode_value = |bytes: &[u8]| typed::decode(btf, self.value_type(), bytes);
        let key = typed::decode(btf, self.key_type(), key);
        Ok(Some(if self.per_cpu() {
            MapEntryView {
                key,
                value: None,
                values: Some(
                    value
                        .chunks(slot)
                        .enumerate()
                        .map(|(cpu, v)| CpuValue {
                            cpu,
                            value: decode_value(&v[..value_size.min(v.len())]),
                        })
                        .collect(),
                ),
            }
        } else {
            MapEntryView {
                key,
                value: Some(decode_value(&value[..value_size])),
                values: None,
            }
        }))
    }
}

/// The map's BTF object, parsed; None when it cannot be read or parsed (output falls back to
/// hex) or when it is split BTF on top of the kernel's, which maps of loaded objects are not.
fn load_btf(btf_id: u32) -> Option<Btf> {
    let fd = open(ObjectKind::Btf, btf_id).ok()?;
    let sized = sys::btf_info(fd.as_fd(), &mut []).ok()?;
    if sized.kernel_btf != 0 {
        return None;
    }
    let mut data = vec![0u8; sized.btf_size as usize];
    let filled = sys::btf_info(fd.as_fd(), &mut data).ok()?;
    data.truncate((filled.btf_size as usize).min(data.len()));
    Btf::parse(&data).ok()
}

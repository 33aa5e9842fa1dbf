//! Creating an object's maps: the sizes the kernel wants (per-CPU perf arrays, page-rounded
//! ring buffers), inner maps before the maps of maps that hold them, global data written and
//! `.rodata` frozen, `LIBBPF_PIN_BY_NAME` maps reused from their pin.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use aya_obj::generated::bpf_map_type as t;
use aya_obj::maps::PinningType;
use aya_obj::{EbpfSectionKind, Features};

use super::LoadError;
use crate::sys::{self, MapCreate};

/// Where maps with `pinning = LIBBPF_PIN_BY_NAME` live, as with libbpf.
const PIN_DIRECTORY: &str = "/sys/fs/bpf";

/// One created map: its name, the definition relocations need, and the fd.
pub(super) struct CreatedMap {
    pub name: String,
    pub definition: aya_obj::Map,
    pub fd: OwnedFd,
}

/// Creates every map of the object (global data sections only where the kernel has them).
pub(super) fn create_all(
    maps: impl IntoIterator<Item = (String, aya_obj::Map)>,
    btf_fd: Option<std::os::fd::BorrowedFd<'_>>,
    features: &Features,
) -> Result<Vec<CreatedMap>, LoadError> {
    let mut maps: Vec<(String, aya_obj::Map)> = maps
        .into_iter()
        .filter(|(_, map)| features.bpf_global_data() || !is_global_data(map))
        .collect();
    // Maps of maps last; names sorted within each group so the order is stable.
    maps.sort_by_key(|(name, map)| (is_map_of_maps(map.map_type()), name.clone()));
    maps.into_iter()
        .map(|(name, mut definition)| {
            adjust_sizes(&mut definition, features)?;
            let fd = match definition.pinning() {
                PinningType::ByName => pinned(&name, &definition, btf_fd)?,
                PinningType::None => create(&name, &definition, btf_fd)?,
            };
            Ok(CreatedMap {
                name,
                definition,
                fd,
            })
        })
        .collect()
}

fn is_global_data(map: &aya_obj::Map) -> bool {
    matches!(
        map.section_kind(),
        EbpfSectionKind::Bss | EbpfSectionKind::Data | EbpfSectionKind::Rodata
    )
}

fn is_map_of_maps(map_type: u32) -> bool {
    map_type == t::BPF_MAP_TYPE_ARRAY_OF_MAPS as u32
        || map_type == t::BPF_MAP_TYPE_HASH_OF_MAPS as u32
}

/// The sizes the kernel insists on, as libbpf sets them.
fn adjust_sizes(map: &mut aya_obj::Map, features: &Features) -> Result<(), LoadError> {
    let map_type = map.map_type();
    if map_type == t::BPF_MAP_TYPE_PERF_EVENT_ARRAY as u32 {
        // One slot per possible CPU: more is refused, and 0 means "the loader decides".
        let cpus = aya::util::nr_cpus().map_err(|(path, error)| LoadError::Io {
            action: format!("reading {path}"),
            error,
        })? as u32;
        if map.max_entries() == 0 || map.max_entries() > cpus {
            map.set_max_entries(cpus);
        }
    } else if map_type == t::BPF_MAP_TYPE_RINGBUF as u32 {
        // A ring is a power-of-two number of pages; the value size must be 0.
        let page = crate::events::page_size() as u32;
        let size = map.max_entries();
        if size != 0 {
            map.set_max_entries(page * size.div_ceil(page).next_power_of_two());
        }
        map.set_value_size(0);
    } else if map_type == t::BPF_MAP_TYPE_CPUMAP as u32 {
        map.set_value_size(if features.cpumap_prog_id() { 8 } else { 4 });
    } else if map_type == t::BPF_MAP_TYPE_DEVMAP as u32
        || map_type == t::BPF_MAP_TYPE_DEVMAP_HASH as u32
    {
        map.set_value_size(if features.devmap_prog_id() { 8 } else { 4 });
    }
    Ok(())
}

/// Map types the kernel refuses BTF key/value types for (libbpf's list).
fn accepts_btf_types(map_type: u32) -> bool {
    ![
        t::BPF_MAP_TYPE_PERF_EVENT_ARRAY,
        t::BPF_MAP_TYPE_CGROUP_ARRAY,
        t::BPF_MAP_TYPE_STACK_TRACE,
        t::BPF_MAP_TYPE_ARRAY_OF_MAPS,
        t::BPF_MAP_TYPE_HASH_OF_MAPS,
        t::BPF_MAP_TYPE_DEVMAP,
        t::BPF_MAP_TYPE_DEVMAP_HASH,
        t::BPF_MAP_TYPE_CPUMAP,
        t::BPF_MAP_TYPE_XSKMAP,
        t::BPF_MAP_TYPE_SOCKMAP,
        t::BPF_MAP_TYPE_SOCKHASH,
        t::BPF_MAP_TYPE_QUEUE,
        t::BPF_MAP_TYPE_STACK,
        t::BPF_MAP_TYPE_RINGBUF,
    ]
    .iter()
    .any(|&refused| refused as u32 == map_type)
}

fn create(
    name: &str,
    map: &aya_obj::Map,
    btf_fd: Option<std::os::fd::BorrowedFd<'_>>,
) -> Result<OwnedFd, LoadError> {
    let failed = |error| LoadError::Map {
        name: name.to_owned(),
        error,
    };
    let inner = match map.inner() {
        Some(inner) if is_map_of_maps(map.map_type()) => {
            Some(create(&format!("{name}.inner"), &inner, btf_fd)?)
        }
        _ => None,
    };
    let btf = match (map, btf_fd) {
        (aya_obj::Map::Btf(m), Some(fd)) if accepts_btf_types(map.map_type()) => {
            Some((fd, m.def.btf_key_type_id, m.def.btf_value_type_id))
        }
        _ => None,
    };
    let fd = sys::map_create(&MapCreate {
        map_type: map.map_type(),
        name,
        key_size: map.key_size(),
        value_size: map.value_size(),
        max_entries: map.max_entries(),
        map_flags: map.map_flags(),
        map_extra: map.map_extra(),
        btf,
        inner_map_fd: inner.as_ref().map(AsFd::as_fd),
    })
    .map_err(failed)?;
    if !map.data().is_empty() {
        sys::map_update(fd.as_fd(), &0u32.to_ne_bytes(), map.data(), 0).map_err(failed)?;
    }
    if map.section_kind() == EbpfSectionKind::Rodata {
        sys::map_freeze(fd.as_fd()).map_err(failed)?;
    }
    Ok(fd)
}

/// The pinned map when one exists (shared with earlier loads), else a new one, pinned.
fn pinned(
    name: &str,
    map: &aya_obj::Map,
    btf_fd: Option<std::os::fd::BorrowedFd<'_>>,
) -> Result<OwnedFd, LoadError> {
    let path = Path::new(PIN_DIRECTORY).join(name);
    if let Ok(fd) = sys::obj_get(&path) {
        return Ok(fd);
    }
    let fd = create(name, map, btf_fd)?;
    sys::obj_pin(fd.as_fd(), &path).map_err(|error| LoadError::Map {
        name: format!("{name} (pinning at {})", path.display()),
        error,
    })?;
    Ok(fd)
}

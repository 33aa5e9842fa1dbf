//! The `.BTF` types that describe BTF-defined maps in a `.maps` section.
//!
//! libbpf 1.0 dropped the legacy `maps` section, so an object for libbpf
//! (and bpftool) declares each map as a global variable of an anonymous
//! struct whose members encode numbers as array lengths, as `__uint(name, N)`
//! does in C: `int (*name)[N]`. Here we write only the types that needs:
//! `int`, the arrays and pointers, one struct per map, the variables and the
//! `.maps` DATASEC.

use std::collections::HashMap;

use super::btf_writer::BtfWriter;
use super::elf::MapSpec;

/// Each struct member is a pointer, so 8 bytes.
const MEMBER_SIZE: u32 = 8;

/// Where each map lies inside `.maps`.
pub(super) struct MapsLayout {
    /// Per map: its offset and size.
    pub maps: Vec<(u64, u64)>,
    pub section_size: u64,
}

/// Adds the types of `maps`, laid out back to back in `.maps`, to `writer`.
pub(super) fn add(writer: &mut BtfWriter, maps: &[MapSpec]) -> MapsLayout {
    let int = writer.int("int", 4, true);
    let mut field_types: HashMap<u32, u32> = HashMap::new();
    let mut vars = Vec::new();
    let mut layout = Vec::new();
    let mut offset = 0u64;
    for map in maps {
        let mut members = vec![("type", map.map_type), ("max_entries", map.max_entries)];
        // Like C definitions, leave out what is zero (a ring buffer has no key).
        for (name, value) in [
            ("key_size", map.key_size),
            ("value_size", map.value_size),
            ("map_flags", map.flags),
        ] {
            if value != 0 {
                members.push((name, value));
            }
        }
        let member_types: Vec<(&str, u32)> = members
            .iter()
            .map(|&(name, value)| {
                let type_id = *field_types
                    .entry(value)
                    .or_insert_with(|| writer.number_pointer(int, value));
                (name, type_id)
            })
            .collect();
        let size = MEMBER_SIZE * member_types.len() as u32;
        let struct_id = writer.anonymous_struct(size, MEMBER_SIZE, &member_types);
        let var_id = writer.var(&map.name, struct_id);
        vars.push((var_id, offset as u32, size));
        layout.push((offset, u64::from(size)));
        offset += u64::from(size);
    }
    writer.datasec(".maps", offset as u32, &vars);
    MapsLayout {
        maps: layout,
        section_size: offset,
    }
}

//! The minimal `.BTF` that describes BTF-defined maps in a `.maps` section.
//!
//! libbpf 1.0 dropped the legacy `maps` section, so an object for libbpf
//! (and bpftool) declares each map as a global variable of an anonymous
//! struct whose members encode numbers as array lengths, as `__uint(name, N)`
//! does in C: `int (*name)[N]`. Here we write only the types that needs:
//! `int`, the arrays and pointers, one struct per map, the variables and the
//! `.maps` DATASEC.

use std::collections::HashMap;

use super::elf::MapSpec;

const BTF_MAGIC: u16 = 0xeb9f;
const BTF_VERSION: u8 = 1;
const BTF_HEADER_LEN: u32 = 24;

const KIND_INT: u32 = 1;
const KIND_PTR: u32 = 2;
const KIND_ARRAY: u32 = 3;
const KIND_STRUCT: u32 = 4;
const KIND_VAR: u32 = 14;
const KIND_DATASEC: u32 = 15;

const INT_SIGNED: u32 = 1;
const VAR_GLOBAL_ALLOCATED: u32 = 1;

/// Each struct member is a pointer, so 8 bytes.
const MEMBER_SIZE: u32 = 8;

/// The `.BTF` bytes plus, per map, its offset and size inside `.maps`.
pub(super) struct MapsBtf {
    pub btf: Vec<u8>,
    pub layout: Vec<(u64, u64)>,
    pub section_size: u64,
}

/// Builds BTF for `maps`, laid out back to back in `.maps`.
pub(super) fn build(maps: &[MapSpec]) -> MapsBtf {
    let mut writer = BtfWriter::default();
    let int = writer.int("int", 4);
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
        let struct_id = writer.anonymous_struct(size, &member_types);
        let var_id = writer.var(&map.name, struct_id);
        vars.push((var_id, offset as u32, size));
        layout.push((offset, u64::from(size)));
        offset += u64::from(size);
    }
    writer.datasec(".maps", offset as u32, &vars);
    MapsBtf {
        btf: writer.finish(),
        layout,
        section_size: offset,
    }
}

#[derive(Default)]
struct BtfWriter {
    types: Vec<u8>,
    strings: Vec<u8>,
    next_id: u32,
}

impl BtfWriter {
    fn string(&mut self, text: &str) -> u32 {
        if self.strings.is_empty() {
            // Offset 0 is the empty name.
            self.strings.push(0);
        }
        let offset = self.strings.len() as u32;
        self.strings.extend_from_slice(text.as_bytes());
        self.strings.push(0);
        offset
    }

    /// Appends a `struct btf_type` header and returns the new type id.
    fn header(&mut self, name: u32, kind: u32, vlen: u32, size_or_type: u32) -> u32 {
        for word in [name, (kind << 24) | vlen, size_or_type] {
            self.words(&[word]);
        }
        self.next_id += 1;
        self.next_id
    }

    fn words(&mut self, words: &[u32]) {
        for word in words {
            self.types.extend_from_slice(&word.to_le_bytes());
        }
    }

    fn int(&mut self, name: &str, size: u32) -> u32 {
        let name = self.string(name);
        let id = self.header(name, KIND_INT, 0, size);
        self.words(&[(INT_SIGNED << 24) | (size * 8)]);
        id
    }

    /// `int (*)[value]`: a pointer to an array whose length is the value.
    fn number_pointer(&mut self, int: u32, value: u32) -> u32 {
        let array = self.header(0, KIND_ARRAY, 0, 0);
        self.words(&[int, int, value]);
        self.header(0, KIND_PTR, 0, array)
    }

    fn anonymous_struct(&mut self, size: u32, members: &[(&str, u32)]) -> u32 {
        let id = self.header(0, KIND_STRUCT, members.len() as u32, size);
        for (index, (name, type_id)) in members.iter().enumerate() {
            let name = self.string(name);
            let bit_offset = index as u32 * MEMBER_SIZE * 8;
            self.words(&[name, *type_id, bit_offset]);
        }
        id
    }

    fn var(&mut self, name: &str, type_id: u32) -> u32 {
        let name = self.string(name);
        let id = self.header(name, KIND_VAR, 0, type_id);
        self.words(&[VAR_GLOBAL_ALLOCATED]);
        id
    }

    fn datasec(&mut self, name: &str, size: u32, vars: &[(u32, u32, u32)]) -> u32 {
        let name = self.string(name);
        let id = self.header(name, KIND_DATASEC, vars.len() as u32, size);
        for &(var, offset, size) in vars {
            self.words(&[var, offset, size]);
        }
        id
    }

    fn finish(self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(BTF_HEADER_LEN as usize + self.types.len() + self.strings.len());
        out.extend_from_slice(&BTF_MAGIC.to_le_bytes());
        out.push(BTF_VERSION);
        out.push(0); // flags
        let type_len = self.types.len() as u32;
        for word in [
            BTF_HEADER_LEN,
            0,
            type_len,
            type_len,
            self.strings.len() as u32,
        ] {
            out.extend_from_slice(&word.to_le_bytes());
        }
        out.extend_from_slice(&self.types);
        out.extend_from_slice(&self.strings);
        out
    }
}

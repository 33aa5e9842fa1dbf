//! A writer of the few BTF kinds generated objects need: integers, pointers, arrays, structs
//! and variables for BTF-defined maps (`btf_maps`), functions and their prototypes for
//! func_info (`func_info`).

const BTF_MAGIC: u16 = 0xeb9f;
const BTF_VERSION: u8 = 1;
const BTF_HEADER_LEN: u32 = 24;

const KIND_INT: u32 = 1;
const KIND_PTR: u32 = 2;
const KIND_ARRAY: u32 = 3;
const KIND_STRUCT: u32 = 4;
const KIND_FUNC: u32 = 12;
const KIND_FUNC_PROTO: u32 = 13;
const KIND_VAR: u32 = 14;
const KIND_DATASEC: u32 = 15;

const INT_SIGNED: u32 = 1;
const VAR_GLOBAL_ALLOCATED: u32 = 1;

/// How a function is visible (`enum btf_func_linkage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Linkage {
    Static = 0,
    Global = 1,
}

#[derive(Default)]
pub(super) struct BtfWriter {
    types: Vec<u8>,
    strings: Vec<u8>,
    next_id: u32,
}

impl BtfWriter {
    /// The offset of `text` in the string section (also what `.BTF.ext` names sections by).
    pub(super) fn string(&mut self, text: &str) -> u32 {
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
        self.words(&[name, (kind << 24) | vlen, size_or_type]);
        self.next_id += 1;
        self.next_id
    }

    fn words(&mut self, words: &[u32]) {
        for word in words {
            self.types.extend_from_slice(&word.to_le_bytes());
        }
    }

    pub(super) fn int(&mut self, name: &str, size: u32, signed: bool) -> u32 {
        let name = self.string(name);
        let id = self.header(name, KIND_INT, 0, size);
        let encoding = if signed { INT_SIGNED } else { 0 };
        self.words(&[(encoding << 24) | (size * 8)]);
        id
    }

    /// A pointer to `target` (0: `void *`).
    pub(super) fn pointer(&mut self, target: u32) -> u32 {
        self.header(0, KIND_PTR, 0, target)
    }

    /// `int (*)[value]`: a pointer to an array whose length is the value.
    pub(super) fn number_pointer(&mut self, int: u32, value: u32) -> u32 {
        let array = self.header(0, KIND_ARRAY, 0, 0);
        self.words(&[int, int, value]);
        self.pointer(array)
    }

    /// A struct of members `member_size` bytes apart.
    pub(super) fn anonymous_struct(
        &mut self,
        size: u32,
        member_size: u32,
        members: &[(&str, u32)],
    ) -> u32 {
        let id = self.header(0, KIND_STRUCT, members.len() as u32, size);
        for (index, (name, type_id)) in members.iter().enumerate() {
            let name = self.string(name);
            let bit_offset = index as u32 * member_size * 8;
            self.words(&[name, *type_id, bit_offset]);
        }
        id
    }

    pub(super) fn var(&mut self, name: &str, type_id: u32) -> u32 {
        let name = self.string(name);
        let id = self.header(name, KIND_VAR, 0, type_id);
        self.words(&[VAR_GLOBAL_ALLOCATED]);
        id
    }

    pub(super) fn datasec(&mut self, name: &str, size: u32, vars: &[(u32, u32, u32)]) -> u32 {
        let name = self.string(name);
        let id = self.header(name, KIND_DATASEC, vars.len() as u32, size);
        for &(var, offset, size) in vars {
            self.words(&[var, offset, size]);
        }
        id
    }

    /// `returns (params…)`; the kernel wants every parameter of a function named.
    pub(super) fn func_proto(&mut self, returns: u32, params: &[(&str, u32)]) -> u32 {
        let id = self.header(0, KIND_FUNC_PROTO, params.len() as u32, returns);
        for (name, type_id) in params {
            let name = self.string(name);
            self.words(&[name, *type_id]);
        }
        id
    }

    pub(super) fn func(&mut self, name: &str, proto: u32, linkage: Linkage) -> u32 {
        let name = self.string(name);
        self.header(name, KIND_FUNC, linkage as u32, proto)
    }

    pub(super) fn finish(self) -> Vec<u8> {
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

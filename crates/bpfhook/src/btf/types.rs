//! The BTF type model and the parser that builds it from raw bytes.
//!
//! A blob is a 24-byte header followed by a type section (variable-length
//! records, one per type, ids counting up from 1) and a string section
//! (NUL-terminated names, referenced by byte offset). Names stay offsets into
//! one copy of the string section, so parsing the ~100k types of vmlinux
//! makes no allocation per name.

use std::borrow::Cow;
use std::ops::Range;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use super::BtfError;

/// Index of a type; 0 is `void`, real types count up from 1.
pub type TypeId = u32;

const MAGIC: u16 = 0xeb9f;
const HEADER_LEN: usize = 24;
const ELF_MAGIC: &[u8] = b"\x7fELF";

/// How long a chain of references (pointer to const to typedef to anonymous
/// struct member ...) may be. The header writer recurses along such chains,
/// so the bound keeps its stack small on hostile input; vmlinux needs ~40.
pub(crate) const MAX_REFERENCE_DEPTH: u16 = 512;

/// The kind of a type without its data, for lookups by kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BtfKind {
    Void,
    Int,
    Ptr,
    Array,
    Struct,
    Union,
    Enum,
    Fwd,
    Typedef,
    Volatile,
    Const,
    Restrict,
    Func,
    FuncProto,
    Var,
    Datasec,
    Float,
    DeclTag,
    TypeTag,
    Enum64,
}

impl BtfKind {
    /// The upper-case name bpftool prints (`STRUCT`, `FUNC_PROTO`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            BtfKind::Void => "UNKN",
            BtfKind::Int => "INT",
            BtfKind::Ptr => "PTR",
            BtfKind::Array => "ARRAY",
            BtfKind::Struct => "STRUCT",
            BtfKind::Union => "UNION",
            BtfKind::Enum => "ENUM",
            BtfKind::Fwd => "FWD",
            BtfKind::Typedef => "TYPEDEF",
            BtfKind::Volatile => "VOLATILE",
            BtfKind::Const => "CONST",
            BtfKind::Restrict => "RESTRICT",
            BtfKind::Func => "FUNC",
            BtfKind::FuncProto => "FUNC_PROTO",
            BtfKind::Var => "VAR",
            BtfKind::Datasec => "DATASEC",
            BtfKind::Float => "FLOAT",
            BtfKind::DeclTag => "DECL_TAG",
            BtfKind::TypeTag => "TYPE_TAG",
            BtfKind::Enum64 => "ENUM64",
        }
    }
}

/// One type: its name (an offset into the string section, 0 when anonymous)
/// and its kind-specific data.
#[derive(Clone, Debug, PartialEq)]
pub struct BtfType {
    pub name_off: u32,
    pub kind: TypeKind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TypeKind {
    Void,
    Int(IntType),
    Ptr(TypeId),
    Array(ArrayType),
    Struct(Composite),
    Union(Composite),
    Enum(EnumType),
    /// A forward declaration of a struct (`is_union == false`) or union.
    Fwd {
        is_union: bool,
    },
    Typedef(TypeId),
    Volatile(TypeId),
    Const(TypeId),
    Restrict(TypeId),
    Func {
        proto: TypeId,
        linkage: Linkage,
    },
    FuncProto(FuncProto),
    Var {
        type_id: TypeId,
        linkage: Linkage,
    },
    Datasec {
        size: u32,
        vars: Box<[DatasecVar]>,
    },
    Float {
        size: u32,
    },
    /// An annotation on `target`, or on its member/parameter
    /// `component_idx` (-1 for the type itself).
    DeclTag {
        target: TypeId,
        component_idx: i32,
    },
    /// `is_attribute` is the kind flag: the tag is a plain
    /// `__attribute__((name))` rather than a `btf_type_tag("name")`.
    TypeTag {
        target: TypeId,
        is_attribute: bool,
    },
    Enum64(EnumType),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntType {
    pub size: u32,
    /// Raw encoding bits: see [`IntType::is_signed`] and friends.
    pub encoding: u8,
    pub bit_offset: u8,
    pub bits: u8,
}

impl IntType {
    pub fn is_signed(&self) -> bool {
        self.encoding & 1 != 0
    }
    pub fn is_char(&self) -> bool {
        self.encoding & 2 != 0
    }
    pub fn is_bool(&self) -> bool {
        self.encoding & 4 != 0
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArrayType {
    pub elem: TypeId,
    pub index: TypeId,
    pub len: u32,
}

/// A struct or union.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Composite {
    pub size: u32,
    pub members: Box<[Member]>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Member {
    pub name_off: u32,
    pub type_id: TypeId,
    pub bit_offset: u32,
    /// 0 unless the member is a bitfield.
    pub bitfield_size: u8,
}

/// An enum (32-bit values) or enum64.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnumType {
    pub size: u32,
    pub signed: bool,
    pub values: Box<[EnumValue]>,
}

/// An enumerator. `value` holds the raw bits: zero-extended from 32 bits for
/// ENUM; read it through [`EnumValue::as_i64`] when the enum is signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EnumValue {
    pub name_off: u32,
    pub value: u64,
}

impl EnumValue {
    /// The value of a signed enumerator of an enum whose values are
    /// `value_bits` (32 or 64) wide.
    pub fn as_i64(&self, value_bits: u32) -> i64 {
        if value_bits == 32 {
            i64::from(self.value as u32 as i32)
        } else {
            self.value as i64
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FuncProto {
    pub ret: TypeId,
    pub params: Box<[FuncParam]>,
    /// The last encoded parameter was `void` with no name: `...`.
    pub variadic: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FuncParam {
    pub name_off: u32,
    pub type_id: TypeId,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DatasecVar {
    pub type_id: TypeId,
    pub offset: u32,
    pub size: u32,
}

/// Linkage of a FUNC or VAR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Linkage {
    Static,
    Global,
    Extern,
    Unknown(u32),
}

impl Linkage {
    fn from_raw(raw: u32) -> Self {
        match raw {
            0 => Linkage::Static,
            1 => Linkage::Global,
            2 => Linkage::Extern,
            other => Linkage::Unknown(other),
        }
    }
}

impl TypeKind {
    pub fn tag(&self) -> BtfKind {
        match self {
            TypeKind::Void => BtfKind::Void,
            TypeKind::Int(_) => BtfKind::Int,
            TypeKind::Ptr(_) => BtfKind::Ptr,
            TypeKind::Array(_) => BtfKind::Array,
            TypeKind::Struct(_) => BtfKind::Struct,
            TypeKind::Union(_) => BtfKind::Union,
            TypeKind::Enum(_) => BtfKind::Enum,
            TypeKind::Fwd { .. } => BtfKind::Fwd,
            TypeKind::Typedef(_) => BtfKind::Typedef,
            TypeKind::Volatile(_) => BtfKind::Volatile,
            TypeKind::Const(_) => BtfKind::Const,
            TypeKind::Restrict(_) => BtfKind::Restrict,
            TypeKind::Func { .. } => BtfKind::Func,
            TypeKind::FuncProto(_) => BtfKind::FuncProto,
            TypeKind::Var { .. } => BtfKind::Var,
            TypeKind::Datasec { .. } => BtfKind::Datasec,
            TypeKind::Float { .. } => BtfKind::Float,
            TypeKind::DeclTag { .. } => BtfKind::DeclTag,
            TypeKind::TypeTag { .. } => BtfKind::TypeTag,
            TypeKind::Enum64(_) => BtfKind::Enum64,
        }
    }

    /// Calls `f` with every type id this type refers to.
    pub fn for_each_reference(&self, mut f: impl FnMut(TypeId)) {
        match self {
            TypeKind::Void
            | TypeKind::Int(_)
            | TypeKind::Enum(_)
            | TypeKind::Enum64(_)
            | TypeKind::Fwd { .. }
            | TypeKind::Float { .. } => {}
            TypeKind::Ptr(target)
            | TypeKind::Typedef(target)
            | TypeKind::Volatile(target)
            | TypeKind::Const(target)
            | TypeKind::Restrict(target)
            | TypeKind::Func { proto: target, .. }
            | TypeKind::Var {
                type_id: target, ..
            }
            | TypeKind::DeclTag { target, .. }
            | TypeKind::TypeTag { target, .. } => f(*target),
            TypeKind::Array(array) => {
                f(array.index);
                f(array.elem);
            }
            TypeKind::Struct(composite) | TypeKind::Union(composite) => {
                composite.members.iter().for_each(|m| f(m.type_id))
            }
            TypeKind::FuncProto(proto) => {
                f(proto.ret);
                proto.params.iter().for_each(|p| f(p.type_id));
            }
            TypeKind::Datasec { vars, .. } => vars.iter().for_each(|v| f(v.type_id)),
        }
    }

    /// The type a modifier or typedef stands for, `None` for other kinds.
    fn modified(&self) -> Option<TypeId> {
        match self {
            TypeKind::Typedef(t)
            | TypeKind::Volatile(t)
            | TypeKind::Const(t)
            | TypeKind::Restrict(t)
            | TypeKind::TypeTag { target: t, .. } => Some(*t),
            _ => None,
        }
    }
}

static VOID: BtfType = BtfType {
    name_off: 0,
    kind: TypeKind::Void,
};

/// Parsed BTF: vmlinux's, a module's (split BTF on top of a base), or a BPF
/// object's.
#[derive(Debug)]
pub struct Btf {
    /// This layer's types; `types[i]` has id `first_id + i`. A base layer
    /// starts at id 0 with `void`.
    types: Vec<BtfType>,
    first_id: TypeId,
    /// This layer's string section; offsets below `first_str_off` belong to
    /// the base.
    strings: Box<str>,
    first_str_off: u32,
    base: Option<Arc<Btf>>,
    big_endian: bool,
    pointer_size: u32,
    /// This layer's named types as (hash of name, id), sorted; built on the
    /// first lookup by name.
    name_index: OnceLock<Vec<(u64, TypeId)>>,
}

impl Btf {
    /// Parses a standalone (base) BTF blob, in either byte order.
    pub fn parse(bytes: &[u8]) -> Result<Btf, BtfError> {
        Self::parse_layer(Cow::Borrowed(bytes), None)
    }

    /// Parses split BTF (a kernel module's) whose ids and string offsets
    /// continue those of `base`.
    pub fn parse_split(bytes: &[u8], base: &Arc<Btf>) -> Result<Btf, BtfError> {
        Self::parse_layer(Cow::Borrowed(bytes), Some(Arc::clone(base)))
    }

    /// Parses the `.BTF` section of an ELF file (a BPF object, a kernel
    /// module or vmlinux itself).
    pub fn from_elf(bytes: &[u8]) -> Result<Btf, BtfError> {
        use object::{Object, ObjectSection};
        let file = object::File::parse(bytes)?;
        let section = file.section_by_name(".BTF").ok_or(BtfError::NoBtfSection)?;
        Self::parse(section.data()?)
    }

    /// Reads a raw BTF file (such as `/sys/kernel/btf/vmlinux`) or an ELF file
    /// with a `.BTF` section.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Btf, BtfError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| BtfError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        if bytes.starts_with(ELF_MAGIC) {
            Self::from_elf(&bytes)
        } else {
            Self::parse_layer(Cow::Owned(bytes), None)
        }
    }

    /// Parses one layer. Given owned bytes, the string section is kept in
    /// place instead of copied: vmlinux's is megabytes.
    fn parse_layer(bytes: Cow<[u8]>, base: Option<Arc<Btf>>) -> Result<Btf, BtfError> {
        let header = Header::parse(&bytes)?;
        if let Some(base) = &base {
            if base.big_endian != header.big_endian {
                return Err(BtfError::ByteOrderMismatch);
            }
        }
        let (first_id, first_str_off) = match &base {
            Some(base) => (base.type_count(), base.strings_end()),
            None => (0, 0),
        };
        check_string_ends(&bytes[header.strings.clone()], base.is_some())?;
        let words = Words {
            bytes: &bytes[header.types.clone()],
            big_endian: header.big_endian,
        };
        let mut types = Vec::with_capacity(header.types.len() / 24 + 1);
        if base.is_none() {
            types.push(VOID.clone());
        }
        let start_id = first_id + types.len() as TypeId;
        parse_types(words, start_id, &mut types)?;
        let strings = into_strings(bytes, header.strings)?;

        let mut btf = Btf {
            types,
            first_id,
            strings,
            first_str_off,
            pointer_size: base.as_ref().map_or(0, |b| b.pointer_size),
            base,
            big_endian: header.big_endian,
            name_index: OnceLock::new(),
        };
        btf.check_references()?;
        btf.check_names()?;
        btf.check_reference_depth()?;
        if btf.pointer_size == 0 {
            btf.pointer_size = btf.guess_pointer_size();
        }
        Ok(btf)
    }

    /// A base BTF built in memory (from another source of types, such as DWARF): `types[i]` gets
    /// id `i + 1`, names are offsets into `strings`, which starts with the empty name. The same
    /// checks as for parsed BTF apply, so every walk over the result terminates.
    pub(crate) fn from_types(
        types: Vec<BtfType>,
        strings: String,
        pointer_size: u32,
    ) -> Result<Btf, BtfError> {
        check_string_ends(strings.as_bytes(), false)?;
        let mut all = Vec::with_capacity(types.len() + 1);
        all.push(VOID.clone());
        all.extend(types);
        let btf = Btf {
            types: all,
            first_id: 0,
            strings: strings.into_boxed_str(),
            first_str_off: 0,
            base: None,
            big_endian: false,
            pointer_size,
            name_index: OnceLock::new(),
        };
        btf.check_references()?;
        btf.check_names()?;
        btf.check_reference_depth()?;
        Ok(btf)
    }

    /// Number of type ids, including `void` and any base types: valid ids
    /// are `0..type_count()`.
    pub fn type_count(&self) -> TypeId {
        self.first_id + self.types.len() as TypeId
    }

    /// The ids this layer defines (for split BTF, not the base's).
    pub fn own_ids(&self) -> std::ops::Range<TypeId> {
        let first = if self.base.is_none() {
            1
        } else {
            self.first_id
        };
        first..self.type_count()
    }

    pub fn base(&self) -> Option<&Arc<Btf>> {
        self.base.as_ref()
    }

    pub fn is_big_endian(&self) -> bool {
        self.big_endian
    }

    /// Size of a pointer on the target, guessed like libbpf from the size
    /// of `long` (8 when the BTF has no `long`).
    pub fn pointer_size(&self) -> u32 {
        self.pointer_size
    }

    pub fn type_by_id(&self, id: TypeId) -> Option<&BtfType> {
        match id.checked_sub(self.first_id) {
            Some(index) => self.types.get(index as usize),
            None => self.base.as_ref()?.type_by_id(id),
        }
    }

    /// The type with id `id`, or `void` for an id outside this BTF. Ids
    /// found inside a parsed `Btf` are always valid (the parser checks them),
    /// so the writers use this to walk references without error plumbing.
    pub(crate) fn type_or_void(&self, id: TypeId) -> &BtfType {
        self.type_by_id(id).unwrap_or(&VOID)
    }

    /// The string at `offset` in the string section ("" if out of range).
    pub fn name(&self, offset: u32) -> &str {
        match offset.checked_sub(self.first_str_off) {
            Some(local) => {
                let tail = self.strings.get(local as usize..).unwrap_or("");
                tail.get(..nul_position(tail.as_bytes())).unwrap_or("")
            }
            None => self.base.as_ref().map_or("", |base| base.name(offset)),
        }
    }

    /// The name of type `id` ("" if anonymous or out of range).
    pub fn type_name(&self, id: TypeId) -> &str {
        self.type_by_id(id).map_or("", |t| self.name(t.name_off))
    }

    /// The first (lowest) id of a type of `kind` named `name`, looking in
    /// the base first. The name index is built on the first call.
    pub fn find_by_name(&self, kind: BtfKind, name: &str) -> Option<TypeId> {
        if let Some(found) = self.base.as_ref().and_then(|b| b.find_by_name(kind, name)) {
            return Some(found);
        }
        let index = self.name_index.get_or_init(|| self.build_name_index());
        let hash = name_hash(name.as_bytes());
        let start = index.partition_point(|&(h, _)| h < hash);
        index[start..]
            .iter()
            .take_while(|&&(h, _)| h == hash)
            .map(|&(_, id)| id)
            .find(|&id| {
                let t = self.type_or_void(id);
                t.kind.tag() == kind && self.name(t.name_off) == name
            })
    }

    fn build_name_index(&self) -> Vec<(u64, TypeId)> {
        let mut index: Vec<(u64, TypeId)> = self
            .types
            .iter()
            .zip(self.first_id..)
            .filter(|(t, _)| t.name_off != 0)
            .map(|(t, id)| (name_hash(self.name(t.name_off).as_bytes()), id))
            .collect();
        // Sorting by (hash, id) keeps the lowest id first among equal names.
        index.sort_unstable();
        index
    }

    /// Follows typedefs, const/volatile/restrict and type tags to the type
    /// they stand for.
    pub fn resolve(&self, mut id: TypeId) -> Option<TypeId> {
        // The parser rejected reference loops, so this terminates.
        while let Some(next) = self.type_by_id(id)?.kind.modified() {
            id = next;
        }
        Some(id)
    }

    /// Size in bytes of a value of type `id`; `None` for types without a
    /// size (void, functions, forward declarations) or on overflow.
    pub fn size_of(&self, mut id: TypeId) -> Option<u64> {
        let mut count: u64 = 1;
        loop {
            let t = self.type_by_id(id)?;
            let size = match &t.kind {
                TypeKind::Int(int) => int.size,
                TypeKind::Enum(e) | TypeKind::Enum64(e) => e.size,
                TypeKind::Struct(c) | TypeKind::Union(c) => c.size,
                TypeKind::Datasec { size, .. } | TypeKind::Float { size } => *size,
                TypeKind::Ptr(_) => self.pointer_size,
                TypeKind::Array(array) => {
                    count = count.checked_mul(u64::from(array.len))?;
                    id = array.elem;
                    continue;
                }
                TypeKind::Var { type_id: next, .. } | TypeKind::DeclTag { target: next, .. } => {
                    id = *next;
                    continue;
                }
                kind => {
                    id = kind.modified()?;
                    continue;
                }
            };
            return count.checked_mul(u64::from(size));
        }
    }

    fn strings_end(&self) -> u32 {
        self.first_str_off + self.strings.len() as u32
    }

    fn is_name_start(&self, offset: u32) -> bool {
        match offset.checked_sub(self.first_str_off) {
            Some(local) => {
                (local as usize) < self.strings.len()
                    && self.strings.is_char_boundary(local as usize)
            }
            None => self.base.as_ref().is_some_and(|b| b.is_name_start(offset)),
        }
    }

    fn own_types(&self) -> impl Iterator<Item = (TypeId, &BtfType)> {
        (self.first_id..).zip(self.types.iter())
    }

    fn check_references(&self) -> Result<(), BtfError> {
        let count = self.type_count();
        for (id, t) in self.own_types() {
            let mut bad = None;
            t.kind.for_each_reference(|target| {
                if target >= count {
                    bad = Some(target);
                }
            });
            if let Some(target) = bad {
                return Err(BtfError::BadTypeId {
                    id,
                    target,
                    last: count - 1,
                });
            }
        }
        Ok(())
    }

    fn check_names(&self) -> Result<(), BtfError> {
        for (id, t) in self.own_types() {
            let mut bad = (!self.is_name_start(t.name_off)).then_some(t.name_off);
            let mut check = |offset: u32| {
                if bad.is_none() && !self.is_name_start(offset) {
                    bad = Some(offset);
                }
            };
            match &t.kind {
                TypeKind::Struct(c) | TypeKind::Union(c) => {
                    c.members.iter().for_each(|m| check(m.name_off))
                }
                TypeKind::Enum(e) | TypeKind::Enum64(e) => {
                    e.values.iter().for_each(|v| check(v.name_off))
                }
                TypeKind::FuncProto(p) => p.params.iter().for_each(|p| check(p.name_off)),
                _ => {}
            }
            if let Some(offset) = bad {
                return Err(BtfError::BadNameOffset { id, offset });
            }
        }
        Ok(())
    }

    /// Rejects reference loops and overly long reference chains, so that
    /// every walk over the types (resolving, alignment, the header writer's
    /// recursion) terminates with a small stack.
    ///
    /// The walk follows what a C declaration must spell out in place: a
    /// pointer to a *named* struct or union ends the chain (a forward
    /// declaration will do), while anything embedded by value, typedefs and
    /// anonymous structs are followed. Nodes are (type, reached through a
    /// pointer) pairs; the longest path is found with an explicit stack.
    fn check_reference_depth(&self) -> Result<(), BtfError> {
        const UNSEEN: u8 = 0;
        const ON_PATH: u8 = 1;
        const DONE: u8 = 2;
        let node_count = self.types.len() * 2;
        let mut state = vec![UNSEEN; node_count];
        let mut depth = vec![0u16; node_count];
        let mut stack: Vec<(usize, usize)> = Vec::new();
        let node_of = |id: TypeId, through_ptr: bool| -> Option<usize> {
            let local = id.checked_sub(self.first_id)? as usize;
            // Void and base types end a chain here: the base was checked.
            (id != 0 && local < self.types.len()).then_some(local * 2 + usize::from(through_ptr))
        };

        for root in 0..self.types.len() {
            let root = root * 2;
            if state[root] != UNSEEN {
                continue;
            }
            state[root] = ON_PATH;
            stack.push((root, 0));
            while let Some(top) = stack.last_mut() {
                let (node, edge) = *top;
                top.1 += 1;
                let t = &self.types[node / 2];
                match self.decl_edge(t, node % 2 == 1, edge) {
                    Some((child_id, child_ptr)) => {
                        let Some(child) = node_of(child_id, child_ptr) else {
                            continue;
                        };
                        match state[child] {
                            UNSEEN => {
                                state[child] = ON_PATH;
                                stack.push((child, 0));
                            }
                            ON_PATH => {
                                return Err(BtfError::ReferenceLoop {
                                    id: child_id,
                                    max_depth: u32::from(MAX_REFERENCE_DEPTH),
                                });
                            }
                            _ => depth[node] = depth[node].max(depth[child] + 1),
                        }
                    }
                    None => {
                        state[node] = DONE;
                        stack.pop();
                        let node_depth = depth[node];
                        if node_depth > MAX_REFERENCE_DEPTH {
                            return Err(BtfError::ReferenceLoop {
                                id: self.first_id + (node / 2) as TypeId,
                                max_depth: u32::from(MAX_REFERENCE_DEPTH),
                            });
                        }
                        if let Some(&(parent, _)) = stack.last() {
                            depth[parent] = depth[parent].max(node_depth + 1);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The `index`-th edge of the declaration walk described in
    /// [`Btf::check_reference_depth`], as (target, reached through pointer).
    fn decl_edge(&self, t: &BtfType, through_ptr: bool, index: usize) -> Option<(TypeId, bool)> {
        let only = |target: TypeId, ptr: bool| (index == 0).then_some((target, ptr));
        match &t.kind {
            TypeKind::Ptr(target) => only(*target, true),
            TypeKind::Typedef(target)
            | TypeKind::Volatile(target)
            | TypeKind::Const(target)
            | TypeKind::Restrict(target)
            | TypeKind::TypeTag { target, .. } => only(*target, through_ptr),
            TypeKind::Array(array) => only(array.elem, false),
            // Sizes are looked up through variables and tags.
            TypeKind::Var {
                type_id: target, ..
            }
            | TypeKind::DeclTag { target, .. } => only(*target, false),
            TypeKind::FuncProto(proto) => match index {
                0 => Some((proto.ret, through_ptr)),
                i => proto.params.get(i - 1).map(|p| (p.type_id, through_ptr)),
            },
            TypeKind::Struct(c) | TypeKind::Union(c) => {
                if through_ptr && t.name_off != 0 {
                    None
                } else {
                    c.members.get(index).map(|m| (m.type_id, false))
                }
            }
            // Nothing walks from a function or section into its parts.
            TypeKind::Func { .. }
            | TypeKind::Datasec { .. }
            | TypeKind::Void
            | TypeKind::Int(_)
            | TypeKind::Enum(_)
            | TypeKind::Enum64(_)
            | TypeKind::Fwd { .. }
            | TypeKind::Float { .. } => None,
        }
    }

    fn guess_pointer_size(&self) -> u32 {
        const LONG_NAMES: [&str; 4] = ["long int", "long unsigned int", "unsigned long", "long"];
        self.types
            .iter()
            .find_map(|t| match &t.kind {
                TypeKind::Int(int) if LONG_NAMES.contains(&self.name(t.name_off)) => Some(int.size),
                _ => None,
            })
            .filter(|&size| size == 4 || size == 8)
            .unwrap_or(8)
    }
}

/// Index of the first NUL in `bytes` (or its length). Names are short, so
/// this scans a word at a time without memchr's setup cost.
fn nul_position(bytes: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let words = bytes.chunks_exact(8);
    let tail_start = bytes.len() - words.remainder().len();
    for (index, word) in words.enumerate() {
        let word = u64::from_le_bytes([
            word[0], word[1], word[2], word[3], word[4], word[5], word[6], word[7],
        ]);
        // Sets the high bit of the lowest zero byte (and maybe above it).
        let zero_bytes = word.wrapping_sub(ONES) & !word & HIGHS;
        if zero_bytes != 0 {
            return index * 8 + (zero_bytes.trailing_zeros() / 8) as usize;
        }
    }
    bytes[tail_start..]
        .iter()
        .position(|&b| b == 0)
        .map_or(bytes.len(), |at| tail_start + at)
}

/// FNV-1a: a tiny, fast hash for the name index.
fn name_hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The header's view of a blob: byte order and where the two sections lie.
struct Header {
    big_endian: bool,
    types: Range<usize>,
    strings: Range<usize>,
}

impl Header {
    fn parse(bytes: &[u8]) -> Result<Self, BtfError> {
        let fixed = &bytes[section(bytes, "header", 0, HEADER_LEN)?];
        let magic = [fixed[0], fixed[1]];
        // The magic reads right in the writer's byte order only.
        let big_endian = if u16::from_le_bytes(magic) == MAGIC {
            false
        } else if u16::from_be_bytes(magic) == MAGIC {
            true
        } else {
            return Err(BtfError::BadMagic {
                found: u16::from_le_bytes(magic),
            });
        };
        if fixed[2] != 1 {
            return Err(BtfError::UnsupportedVersion(fixed[2]));
        }
        let words = Words {
            bytes: fixed,
            big_endian,
        };
        // Fields are u32 at byte offsets 4 (header length) to 20.
        let field = |at: usize| words.word(at).map(|w| w as usize).unwrap_or(0);
        let header_len = field(4);
        if header_len < HEADER_LEN {
            return Err(BtfError::Truncated {
                what: "header",
                start: 0,
                end: HEADER_LEN,
                len: header_len,
            });
        }
        // Section offsets count from the end of the header.
        let within =
            |what, offset: usize, len| section(bytes, what, header_len.saturating_add(offset), len);
        Ok(Header {
            big_endian,
            types: within("type section", field(8), field(12))?,
            strings: within("string section", field(16), field(20))?,
        })
    }
}

/// The range `offset..offset + len`, checked to lie within `data`.
fn section(
    data: &[u8],
    what: &'static str,
    offset: usize,
    len: usize,
) -> Result<Range<usize>, BtfError> {
    let end = offset.saturating_add(len);
    if end > data.len() {
        return Err(BtfError::Truncated {
            what,
            start: offset,
            end,
            len: data.len(),
        });
    }
    Ok(offset..end)
}

fn check_string_ends(strings: &[u8], is_split: bool) -> Result<(), BtfError> {
    if !is_split && strings.first() != Some(&0) {
        return Err(BtfError::BadStrings("it must start with an empty string"));
    }
    if strings.last().is_some_and(|&b| b != 0) {
        return Err(BtfError::BadStrings("it must end with a NUL byte"));
    }
    Ok(())
}

/// The string section as text, reusing the blob's buffer when we own it.
fn into_strings(bytes: Cow<[u8]>, range: Range<usize>) -> Result<Box<str>, BtfError> {
    let not_utf8 = |_| BtfError::BadStrings("not UTF-8");
    match bytes {
        Cow::Borrowed(bytes) => Ok(std::str::from_utf8(&bytes[range]).map_err(not_utf8)?.into()),
        Cow::Owned(mut bytes) => {
            let len = range.len();
            bytes.copy_within(range, 0);
            bytes.truncate(len);
            Ok(String::from_utf8(bytes)
                .map_err(|e| not_utf8(e.utf8_error()))?
                .into_boxed_str())
        }
    }
}

/// u32 reads in the blob's byte order.
#[derive(Clone, Copy)]
struct Words<'a> {
    bytes: &'a [u8],
    big_endian: bool,
}

impl Words<'_> {
    fn word(&self, at: usize) -> Option<u32> {
        let raw: [u8; 4] = self.bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(self.decode(raw))
    }

    fn decode(&self, raw: [u8; 4]) -> u32 {
        if self.big_endian {
            u32::from_be_bytes(raw)
        } else {
            u32::from_le_bytes(raw)
        }
    }
}

/// Parses type records one after another, giving them ids from `start_id`.
fn parse_types(words: Words, start_id: TypeId, types: &mut Vec<BtfType>) -> Result<(), BtfError> {
    let mut record = Record {
        words,
        at: 0,
        id: start_id,
    };
    while record.at < words.bytes.len() {
        types.push(record.parse()?);
        let Some(next_id) = record.id.checked_add(1) else {
            return Err(BtfError::TruncatedType { id: record.id });
        };
        record.id = next_id;
    }
    Ok(())
}

/// A cursor over the type records.
struct Record<'a> {
    words: Words<'a>,
    /// Byte offset of the next word.
    at: usize,
    id: TypeId,
}

impl<'a> Record<'a> {
    /// The next `count` groups of `N` words, checked to be present up front
    /// so a garbled count fails before anything is allocated.
    fn entries<const N: usize>(
        &mut self,
        count: usize,
    ) -> Result<impl ExactSizeIterator<Item = [u32; N]> + 'a, BtfError> {
        let end = self.at + 4 * N * count;
        let Some(bytes) = self.words.bytes.get(self.at..end) else {
            return Err(self.truncated());
        };
        self.at = end;
        let words = self.words;
        Ok(bytes.chunks_exact(4 * N).map(move |group| {
            std::array::from_fn(|i| {
                let at = 4 * i;
                words.decode([group[at], group[at + 1], group[at + 2], group[at + 3]])
            })
        }))
    }

    fn next(&mut self) -> Result<u32, BtfError> {
        let Some(word) = self.words.word(self.at) else {
            return Err(self.truncated());
        };
        self.at += 4;
        Ok(word)
    }

    // Errors are built only on failure (not eagerly, as `ok_or` would):
    // dropping an unused `BtfError` per word showed up in profiles.
    fn truncated(&self) -> BtfError {
        BtfError::TruncatedType { id: self.id }
    }

    fn parse(&mut self) -> Result<BtfType, BtfError> {
        let name_off = self.next()?;
        let info = self.next()?;
        let size_or_type = self.next()?;
        let vlen = (info & 0xffff) as usize;
        let kind_flag = info >> 31 == 1;
        let kind = match (info >> 24) & 0x1f {
            1 => {
                let bits = self.next()?;
                TypeKind::Int(IntType {
                    size: size_or_type,
                    encoding: ((bits >> 24) & 0x0f) as u8,
                    bit_offset: (bits >> 16) as u8,
                    bits: bits as u8,
                })
            }
            2 => TypeKind::Ptr(size_or_type),
            3 => TypeKind::Array(ArrayType {
                elem: self.next()?,
                index: self.next()?,
                len: self.next()?,
            }),
            kind @ (4 | 5) => {
                let members = self
                    .entries::<3>(vlen)?
                    .map(|[name_off, type_id, offset]| {
                        // With the kind flag, the top byte is the bitfield size.
                        let (bit_offset, bitfield_size) = if kind_flag {
                            (offset & 0x00ff_ffff, (offset >> 24) as u8)
                        } else {
                            (offset, 0)
                        };
                        Member {
                            name_off,
                            type_id,
                            bit_offset,
                            bitfield_size,
                        }
                    })
                    .collect();
                let composite = Composite {
                    size: size_or_type,
                    members,
                };
                if kind == 4 {
                    TypeKind::Struct(composite)
                } else {
                    TypeKind::Union(composite)
                }
            }
            6 => TypeKind::Enum(EnumType {
                size: size_or_type,
                signed: kind_flag,
                values: self
                    .entries::<2>(vlen)?
                    .map(|[name_off, value]| EnumValue {
                        name_off,
                        value: u64::from(value),
                    })
                    .collect(),
            }),
            7 => TypeKind::Fwd {
                is_union: kind_flag,
            },
            8 => TypeKind::Typedef(size_or_type),
            9 => TypeKind::Volatile(size_or_type),
            10 => TypeKind::Const(size_or_type),
            11 => TypeKind::Restrict(size_or_type),
            12 => TypeKind::Func {
                proto: size_or_type,
                linkage: Linkage::from_raw(vlen as u32),
            },
            13 => {
                let mut params: Vec<FuncParam> = self
                    .entries::<2>(vlen)?
                    .map(|[name_off, type_id]| FuncParam { name_off, type_id })
                    .collect();
                let variadic = params
                    .last()
                    .is_some_and(|p| p.type_id == 0 && p.name_off == 0);
                if variadic {
                    params.pop();
                }
                TypeKind::FuncProto(FuncProto {
                    ret: size_or_type,
                    params: params.into_boxed_slice(),
                    variadic,
                })
            }
            14 => TypeKind::Var {
                type_id: size_or_type,
                linkage: Linkage::from_raw(self.next()?),
            },
            15 => TypeKind::Datasec {
                size: size_or_type,
                vars: self
                    .entries::<3>(vlen)?
                    .map(|[type_id, offset, size]| DatasecVar {
                        type_id,
                        offset,
                        size,
                    })
                    .collect(),
            },
            16 => TypeKind::Float { size: size_or_type },
            17 => TypeKind::DeclTag {
                target: size_or_type,
                component_idx: self.next()? as i32,
            },
            18 => TypeKind::TypeTag {
                target: size_or_type,
                is_attribute: kind_flag,
            },
            19 => TypeKind::Enum64(EnumType {
                size: size_or_type,
                signed: kind_flag,
                values: self
                    .entries::<3>(vlen)?
                    .map(|[name_off, low, high]| EnumValue {
                        name_off,
                        value: u64::from(high) << 32 | u64::from(low),
                    })
                    .collect(),
            }),
            kind => return Err(BtfError::UnknownKind { id: self.id, kind }),
        };
        Ok(BtfType { name_off, kind })
    }
}

/// Builds BTF blobs by hand for tests.
#[cfg(test)]
pub(crate) mod test_blob {
    use super::TypeId;

    /// Appends types and strings and encodes them in either byte order.
    pub(crate) struct BtfBuilder {
        words: Vec<u32>,
        strings: Vec<u8>,
        next_id: TypeId,
        first_str_off: u32,
    }

    impl BtfBuilder {
        pub(crate) fn new() -> Self {
            BtfBuilder {
                words: Vec::new(),
                strings: vec![0],
                next_id: 1,
                first_str_off: 0,
            }
        }

        /// A builder for split BTF on top of a base with `base_type_count`
        /// ids and `base_strings_len` bytes of strings.
        pub(crate) fn split(base_type_count: u32, base_strings_len: u32) -> Self {
            BtfBuilder {
                words: Vec::new(),
                strings: Vec::new(),
                next_id: base_type_count,
                first_str_off: base_strings_len,
            }
        }

        pub(crate) fn string(&mut self, s: &str) -> u32 {
            if s.is_empty() {
                return 0;
            }
            let offset = self.first_str_off + self.strings.len() as u32;
            self.strings.extend_from_slice(s.as_bytes());
            self.strings.push(0);
            offset
        }

        /// Appends a raw record: common header then extra words.
        pub(crate) fn record(
            &mut self,
            name: &str,
            kind: u32,
            kind_flag: bool,
            vlen: u32,
            size_or_type: u32,
            extra: &[u32],
        ) -> TypeId {
            let name_off = self.string(name);
            let info = (u32::from(kind_flag) << 31) | (kind << 24) | vlen;
            self.words
                .extend_from_slice(&[name_off, info, size_or_type]);
            self.words.extend_from_slice(extra);
            self.next_id += 1;
            self.next_id - 1
        }

        pub(crate) fn int(&mut self, name: &str, size: u32, signed: bool) -> TypeId {
            let bits = u32::from(signed) << 24 | (size * 8);
            self.record(name, 1, false, 0, size, &[bits])
        }

        pub(crate) fn int_with_encoding(&mut self, name: &str, size: u32, encoding: u32) -> TypeId {
            self.record(name, 1, false, 0, size, &[encoding << 24 | (size * 8)])
        }

        pub(crate) fn ptr(&mut self, target: TypeId) -> TypeId {
            self.record("", 2, false, 0, target, &[])
        }

        pub(crate) fn array(&mut self, elem: TypeId, index: TypeId, len: u32) -> TypeId {
            self.record("", 3, false, 0, 0, &[elem, index, len])
        }

        /// Members are (name, type, bit offset, bitfield size).
        pub(crate) fn composite(
            &mut self,
            is_union: bool,
            name: &str,
            size: u32,
            members: &[(&str, TypeId, u32, u32)],
        ) -> TypeId {
            let has_bitfields = members.iter().any(|m| m.3 != 0);
            let mut extra = Vec::new();
            for &(member, type_id, offset, bitfield) in members {
                let encoded = if has_bitfields {
                    bitfield << 24 | offset
                } else {
                    offset
                };
                extra.extend_from_slice(&[self.string(member), type_id, encoded]);
            }
            let kind = if is_union { 5 } else { 4 };
            self.record(
                name,
                kind,
                has_bitfields,
                members.len() as u32,
                size,
                &extra,
            )
        }

        pub(crate) fn struct_(
            &mut self,
            name: &str,
            size: u32,
            members: &[(&str, TypeId, u32, u32)],
        ) -> TypeId {
            self.composite(false, name, size, members)
        }

        pub(crate) fn union(
            &mut self,
            name: &str,
            size: u32,
            members: &[(&str, TypeId, u32, u32)],
        ) -> TypeId {
            self.composite(true, name, size, members)
        }

        pub(crate) fn enum32(
            &mut self,
            name: &str,
            size: u32,
            signed: bool,
            values: &[(&str, i64)],
        ) -> TypeId {
            let mut extra = Vec::new();
            for &(value_name, value) in values {
                extra.extend_from_slice(&[self.string(value_name), value as u32]);
            }
            self.record(name, 6, signed, values.len() as u32, size, &extra)
        }

        pub(crate) fn enum64(
            &mut self,
            name: &str,
            size: u32,
            signed: bool,
            values: &[(&str, u64)],
        ) -> TypeId {
            let mut extra = Vec::new();
            for &(value_name, value) in values {
                extra.extend_from_slice(&[
                    self.string(value_name),
                    value as u32,
                    (value >> 32) as u32,
                ]);
            }
            self.record(name, 19, signed, values.len() as u32, size, &extra)
        }

        pub(crate) fn fwd(&mut self, name: &str, is_union: bool) -> TypeId {
            self.record(name, 7, is_union, 0, 0, &[])
        }

        pub(crate) fn typedef(&mut self, name: &str, target: TypeId) -> TypeId {
            self.record(name, 8, false, 0, target, &[])
        }

        pub(crate) fn volatile(&mut self, target: TypeId) -> TypeId {
            self.record("", 9, false, 0, target, &[])
        }

        pub(crate) fn const_(&mut self, target: TypeId) -> TypeId {
            self.record("", 10, false, 0, target, &[])
        }

        pub(crate) fn restrict(&mut self, target: TypeId) -> TypeId {
            self.record("", 11, false, 0, target, &[])
        }

        pub(crate) fn func(&mut self, name: &str, proto: TypeId, linkage: u32) -> TypeId {
            self.record(name, 12, false, linkage, proto, &[])
        }

        /// Params are (name, type); a trailing ("", 0) makes it variadic.
        pub(crate) fn func_proto(&mut self, ret: TypeId, params: &[(&str, TypeId)]) -> TypeId {
            let mut extra = Vec::new();
            for &(param, type_id) in params {
                extra.extend_from_slice(&[self.string(param), type_id]);
            }
            self.record("", 13, false, params.len() as u32, ret, &extra)
        }

        pub(crate) fn var(&mut self, name: &str, type_id: TypeId, linkage: u32) -> TypeId {
            self.record(name, 14, false, 0, type_id, &[linkage])
        }

        /// Vars are (type, offset, size).
        pub(crate) fn datasec(
            &mut self,
            name: &str,
            size: u32,
            vars: &[(TypeId, u32, u32)],
        ) -> TypeId {
            let extra: Vec<u32> = vars.iter().flat_map(|&(t, o, s)| [t, o, s]).collect();
            self.record(name, 15, false, vars.len() as u32, size, &extra)
        }

        pub(crate) fn float(&mut self, name: &str, size: u32) -> TypeId {
            self.record(name, 16, false, 0, size, &[])
        }

        pub(crate) fn decl_tag(
            &mut self,
            name: &str,
            target: TypeId,
            component_idx: i32,
        ) -> TypeId {
            self.record(name, 17, false, 0, target, &[component_idx as u32])
        }

        pub(crate) fn type_tag(&mut self, name: &str, target: TypeId) -> TypeId {
            self.record(name, 18, false, 0, target, &[])
        }

        pub(crate) fn strings_len(&self) -> u32 {
            self.first_str_off + self.strings.len() as u32
        }

        pub(crate) fn build(&self) -> Vec<u8> {
            self.encode(u32::to_le_bytes, [0x9f, 0xeb])
        }

        pub(crate) fn build_big_endian(&self) -> Vec<u8> {
            self.encode(u32::to_be_bytes, [0xeb, 0x9f])
        }

        fn encode(&self, word: fn(u32) -> [u8; 4], magic: [u8; 2]) -> Vec<u8> {
            let types_len = self.words.len() as u32 * 4;
            let mut out = Vec::new();
            out.extend_from_slice(&magic);
            out.extend_from_slice(&[1, 0]);
            for field in [24, 0, types_len, types_len, self.strings.len() as u32] {
                out.extend_from_slice(&word(field));
            }
            self.words
                .iter()
                .for_each(|&w| out.extend_from_slice(&word(w)));
            out.extend_from_slice(&self.strings);
            out
        }
    }

    /// One type of every kind, referencing each other sensibly.
    pub(crate) fn every_kind() -> BtfBuilder {
        let mut b = BtfBuilder::new();
        let int = b.int("int", 4, true); // 1
        let ptr = b.ptr(int); // 2
        let arr = b.array(int, int, 4); // 3
        let s = b.struct_("pair", 8, &[("a", int, 0, 0), ("b", int, 32, 3)]); // 4
        b.union("either", 16, &[("i", int, 0, 0), ("p", arr, 0, 0)]); // 5
        b.enum32("color", 4, true, &[("RED", -1), ("BLUE", 7)]); // 6
        b.fwd("later", true); // 7
        let td = b.typedef("int_t", int); // 8
        let vol = b.volatile(td); // 9
        let cst = b.const_(vol); // 10
        b.restrict(ptr); // 11
        let proto = b.func_proto(int, &[("x", ptr), ("", 0)]); // 12
        b.func("f", proto, 1); // 13
        let var = b.var("v", s, 1); // 14
        b.datasec(".data", 16, &[(var, 0, 8)]); // 15
        b.float("double", 8); // 16
        b.decl_tag("tag", s, 1); // 17
        b.type_tag("user", cst); // 18
        b.enum64("big", 8, false, &[("HUGE", 1 << 40)]); // 19
        b
    }
}

#[cfg(test)]
mod tests {
    use super::test_blob::{every_kind, BtfBuilder};
    use super::*;

    const VMLINUX: &str = "/sys/kernel/btf/vmlinux";

    #[test]
    fn parses_every_kind() {
        let btf = Btf::parse(&every_kind().build()).expect("valid blob");
        assert_eq!(btf.type_count(), 20);
        let kinds: Vec<BtfKind> = (0..20)
            .map(|id| btf.type_by_id(id).expect("id in range").kind.tag())
            .collect();
        use BtfKind::*;
        assert_eq!(
            kinds,
            [
                Void, Int, Ptr, Array, Struct, Union, Enum, Fwd, Typedef, Volatile, Const,
                Restrict, FuncProto, Func, Var, Datasec, Float, DeclTag, TypeTag, Enum64
            ]
        );
        let t = |id| &btf.type_by_id(id).expect("id in range").kind;
        assert_eq!(
            *t(1),
            TypeKind::Int(IntType {
                size: 4,
                encoding: 1,
                bit_offset: 0,
                bits: 32
            })
        );
        let TypeKind::Struct(pair) = t(4) else {
            panic!("not a struct")
        };
        assert_eq!(pair.members[1].bit_offset, 32);
        assert_eq!(pair.members[1].bitfield_size, 3);
        assert_eq!(btf.name(pair.members[1].name_off), "b");
        let TypeKind::Enum(color) = t(6) else {
            panic!("not an enum")
        };
        assert!(color.signed);
        assert_eq!(color.values[0].as_i64(32), -1);
        assert_eq!(*t(7), TypeKind::Fwd { is_union: true });
        let TypeKind::FuncProto(proto) = t(12) else {
            panic!("not a proto")
        };
        assert!(proto.variadic);
        assert_eq!(proto.params.len(), 1);
        assert_eq!(
            *t(13),
            TypeKind::Func {
                proto: 12,
                linkage: Linkage::Global
            }
        );
        assert_eq!(
            *t(17),
            TypeKind::DeclTag {
                target: 4,
                component_idx: 1
            }
        );
        let TypeKind::Enum64(big) = t(19) else {
            panic!("not an enum64")
        };
        assert_eq!(big.values[0].value, 1 << 40);
        assert_eq!(btf.type_name(16), "double");
    }

    #[test]
    fn big_endian_blob_parses_to_the_same_types() {
        let builder = every_kind();
        let little = Btf::parse(&builder.build()).expect("little endian");
        let big = Btf::parse(&builder.build_big_endian()).expect("big endian");
        assert!(big.is_big_endian());
        for id in 0..little.type_count() {
            assert_eq!(little.type_by_id(id), big.type_by_id(id));
        }
    }

    #[test]
    fn lookups_resolve_and_size() {
        let btf = Btf::parse(&every_kind().build()).expect("valid blob");
        assert_eq!(btf.find_by_name(BtfKind::Struct, "pair"), Some(4));
        assert_eq!(btf.find_by_name(BtfKind::Union, "pair"), None);
        assert_eq!(btf.find_by_name(BtfKind::Typedef, "int_t"), Some(8));
        assert_eq!(
            btf.resolve(18),
            Some(1),
            "type tag -> const -> volatile -> typedef -> int"
        );
        assert_eq!(btf.size_of(3), Some(16));
        assert_eq!(btf.size_of(2), Some(8));
        assert_eq!(btf.size_of(10), Some(4));
        assert_eq!(btf.size_of(14), Some(8), "a var has its type's size");
        assert_eq!(btf.size_of(7), None, "a forward declaration has no size");
        assert_eq!(btf.size_of(0), None);
        assert_eq!(btf.resolve(999), None);
    }

    #[test]
    fn split_btf_continues_base_ids_and_strings() {
        let mut base_builder = BtfBuilder::new();
        let int = base_builder.int("int", 4, true);
        let base = Arc::new(Btf::parse(&base_builder.build()).expect("base"));

        let mut split = BtfBuilder::split(base.type_count(), base_builder.strings_len());
        let ptr = split.ptr(int);
        let s = split.struct_("module_thing", 8, &[("p", ptr, 0, 0)]);
        let module = Btf::parse_split(&split.build(), &base).expect("split");

        assert_eq!(module.own_ids(), 2..4);
        assert_eq!(
            module.type_by_id(1).map(|t| t.kind.tag()),
            Some(BtfKind::Int)
        );
        assert_eq!(module.find_by_name(BtfKind::Int, "int"), Some(int));
        assert_eq!(
            module.find_by_name(BtfKind::Struct, "module_thing"),
            Some(s)
        );
        assert_eq!(module.type_name(s), "module_thing");
        assert_eq!(module.size_of(s), Some(8));
    }

    #[test]
    fn rejects_malformed_blobs_with_specific_errors() {
        let good = every_kind().build();
        let mut bad_magic = good.clone();
        bad_magic[0] = 0;
        assert!(matches!(
            Btf::parse(&bad_magic),
            Err(BtfError::BadMagic { .. })
        ));
        assert!(matches!(
            Btf::parse(&good[..10]),
            Err(BtfError::Truncated { .. })
        ));

        let mut unknown = BtfBuilder::new();
        unknown.record("", 25, false, 0, 0, &[]);
        assert!(matches!(
            Btf::parse(&unknown.build()),
            Err(BtfError::UnknownKind { id: 1, kind: 25 })
        ));

        let mut dangling = BtfBuilder::new();
        dangling.ptr(7);
        assert!(matches!(
            Btf::parse(&dangling.build()),
            Err(BtfError::BadTypeId {
                id: 1,
                target: 7,
                ..
            })
        ));

        let mut looped = BtfBuilder::new();
        looped.const_(2);
        looped.ptr(1);
        assert!(matches!(
            Btf::parse(&looped.build()),
            Err(BtfError::ReferenceLoop { .. })
        ));

        let mut by_value = BtfBuilder::new();
        by_value.struct_("a", 4, &[("b", 2, 0, 0)]);
        by_value.struct_("b", 4, &[("a", 1, 0, 0)]);
        assert!(matches!(
            Btf::parse(&by_value.build()),
            Err(BtfError::ReferenceLoop { .. })
        ));
    }

    #[test]
    fn pointer_cycles_between_named_structs_are_fine() {
        let mut b = BtfBuilder::new();
        let a = b.struct_("a", 8, &[("b", 3, 0, 0)]);
        b.struct_("b", 8, &[("a", 4, 0, 0)]);
        b.ptr(4); // 3: struct b *
        b.ptr(a); // 4: struct a *
        assert!(Btf::parse(&b.build()).is_ok());
    }

    #[test]
    fn parses_vmlinux() {
        let btf = Btf::from_file(VMLINUX).expect("vmlinux BTF");
        assert!(btf.type_count() > 10_000);
        assert_eq!(btf.pointer_size(), 8);
        let task = btf
            .find_by_name(BtfKind::Struct, "task_struct")
            .expect("task_struct");
        assert!(btf.size_of(task).is_some_and(|size| size > 1000));
        let pid_t = btf.find_by_name(BtfKind::Typedef, "pid_t").expect("pid_t");
        let int = btf.resolve(pid_t).expect("resolves");
        assert_eq!(btf.type_name(int), "int");
    }

    /// Truncating or garbling the real vmlinux blob anywhere must give an
    /// error or a valid `Btf`, never a panic.
    #[test]
    fn damaged_vmlinux_never_panics() {
        let good = std::fs::read(VMLINUX).expect("read vmlinux BTF");
        let len = good.len();
        // Every offset in the header, then spread over the whole blob.
        let mut offsets: Vec<usize> = (0..32).collect();
        offsets.extend((1..400).map(|i| i * (len / 400) + i % 13));
        for &cut in &offsets {
            assert!(Btf::parse(&good[..cut]).is_err(), "cut at {cut}");
        }
        // Garbling costs a full parse each (slow in debug builds), so fewer.
        let mut garbled = good.clone();
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        for (n, &at) in offsets.iter().step_by(6).enumerate() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let at = (at + seed as usize % 64).min(len - 4);
            let original = [
                garbled[at],
                garbled[at + 1],
                garbled[at + 2],
                garbled[at + 3],
            ];
            let damage = match n % 3 {
                0 => [0; 4],
                1 => [0xff; 4],
                _ => [
                    seed as u8,
                    (seed >> 8) as u8,
                    (seed >> 16) as u8,
                    (seed >> 24) as u8,
                ],
            };
            garbled[at..at + 4].copy_from_slice(&damage);
            // Either outcome is fine; what matters is returning.
            let _ = Btf::parse(&garbled);
            garbled[at..at + 4].copy_from_slice(&original);
        }
    }

    #[test]
    fn from_elf_finds_the_btf_section() {
        let blob = every_kind().build();
        let elf = minimal_elf_with_section(".BTF", &blob);
        let btf = Btf::from_elf(&elf).expect("ELF with .BTF");
        assert_eq!(btf.type_count(), 20);
        let no_btf = minimal_elf_with_section(".data", &blob);
        assert!(matches!(
            Btf::from_elf(&no_btf),
            Err(BtfError::NoBtfSection)
        ));
    }

    /// A 64-bit little-endian ELF relocatable with one named section.
    fn minimal_elf_with_section(name: &str, data: &[u8]) -> Vec<u8> {
        let shstrtab: Vec<u8> = [b"\0", name.as_bytes(), b"\0.shstrtab\0"].concat();
        let data_off = 64u64;
        let shstr_off = data_off + data.len() as u64;
        let sh_off = (shstr_off + shstrtab.len() as u64 + 7) & !7;
        let mut elf = Vec::new();
        elf.extend_from_slice(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
        elf.extend_from_slice(&1u16.to_le_bytes()); // ET_REL
        elf.extend_from_slice(&247u16.to_le_bytes()); // EM_BPF
        elf.extend_from_slice(&1u32.to_le_bytes());
        elf.extend_from_slice(&0u64.to_le_bytes()); // entry
        elf.extend_from_slice(&0u64.to_le_bytes()); // phoff
        elf.extend_from_slice(&sh_off.to_le_bytes());
        elf.extend_from_slice(&0u32.to_le_bytes()); // flags
        for half in [64u16, 0, 0, 64, 3, 2] {
            elf.extend_from_slice(&half.to_le_bytes());
        }
        elf.extend_from_slice(data);
        elf.extend_from_slice(&shstrtab);
        elf.resize(sh_off as usize, 0);
        let section_header = |name: u32, kind: u32, offset: u64, size: u64| {
            let mut sh = Vec::new();
            sh.extend_from_slice(&name.to_le_bytes());
            sh.extend_from_slice(&kind.to_le_bytes());
            sh.extend_from_slice(&0u64.to_le_bytes()); // flags
            sh.extend_from_slice(&0u64.to_le_bytes()); // addr
            sh.extend_from_slice(&offset.to_le_bytes());
            sh.extend_from_slice(&size.to_le_bytes());
            sh.extend_from_slice(&[0; 8]); // link, info
            sh.extend_from_slice(&1u64.to_le_bytes()); // addralign
            sh.extend_from_slice(&0u64.to_le_bytes()); // entsize
            sh
        };
        elf.extend(section_header(0, 0, 0, 0));
        elf.extend(section_header(1, 1, data_off, data.len() as u64));
        let shstrtab_name = 1 + name.len() as u32 + 1;
        elf.extend(section_header(
            shstrtab_name,
            3,
            shstr_off,
            shstrtab.len() as u64,
        ));
        elf
    }
}

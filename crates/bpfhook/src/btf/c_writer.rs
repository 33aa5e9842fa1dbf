//! Writes BTF as a compilable C header: the `vmlinux.h` BPF programs include.
//!
//! The output matches `bpftool btf dump file … format c`, which is libbpf's
//! `btf_dump`. Two passes per top-level type:
//!
//! * ordering: a depth-first walk that queues named types so that whatever
//!   a definition embeds by value (a *strong* link) comes before it, while
//!   things only pointed to (a *weak* link) may come later behind a forward
//!   declaration;
//! * emission: prints queued types, emitting forward declarations for
//!   pointed-to structs not yet defined, and inlining anonymous types.
//!
//! C declarators are built from a stack of the types in a reference chain
//! (pointer, const, array, function prototype ...), printed inside out.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::Write;

use super::types::{Btf, BtfType, Composite, EnumType, TypeId, TypeKind};
use super::BtfError;

/// Writes the whole of `btf` (including a split BTF's base) as a C header.
pub fn write_c_header(btf: &Btf, out: &mut impl Write) -> Result<(), BtfError> {
    let mut writer = HeaderWriter::new(btf);
    writer.text.extend_from_slice(PROLOGUE.as_bytes());
    for id in 1..btf.type_count() {
        writer.emit_top_level(id)?;
        if writer.text.len() >= FLUSH_AT {
            out.write_all(&writer.text)?;
            writer.text.clear();
        }
    }
    writer.text.extend_from_slice(EPILOGUE.as_bytes());
    out.write_all(&writer.text)?;
    Ok(())
}

/// Writes one type as a C declaration ending in `;\n`: a struct, union or enum definition, a
/// function's prototype (`int f(int a);`), a typedef, or a variable. Named types it refers to
/// are printed by name, not defined. Describing a single hook needs this, not a whole header.
pub fn write_c_declaration(btf: &Btf, id: TypeId, out: &mut impl Write) -> Result<(), BtfError> {
    let mut writer = HeaderWriter::for_declarations(btf);
    let t = btf.type_by_id(id).ok_or(BtfError::BadTypeId {
        id,
        target: id,
        last: btf.type_count().saturating_sub(1),
    })?;
    let name = btf.name(t.name_off);
    match &t.kind {
        TypeKind::Struct(c) | TypeKind::Union(c) => writer.emit_struct_def(id, c, 0),
        TypeKind::Enum(e) | TypeKind::Enum64(e) => writer.emit_enum_def(id, e, 0),
        TypeKind::Typedef(target) => writer.emit_typedef_def(id, *target),
        TypeKind::Func { proto, .. } => writer.emit_decl(*proto, DeclName::Field(name), 0),
        TypeKind::Var { type_id, .. } => writer.emit_decl(*type_id, DeclName::Field(name), 0),
        _ => writer.emit_decl(id, DeclName::Field(""), 0),
    }
    writer.put(";\n");
    out.write_all(&writer.text)?;
    Ok(())
}

const PROLOGUE: &str = "#ifndef __VMLINUX_H__\n#define __VMLINUX_H__\n\n\
#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n\
#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n\
#endif\n\n";

const EPILOGUE: &str =
    "#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop\n#endif\n\n\
#endif /* __VMLINUX_H__ */\n";

/// Text is handed to the caller's writer in chunks of about this size.
const FLUSH_AT: usize = 256 << 10;

const ALIGN_UNKNOWN: u8 = u8::MAX;

/// libbpf caps indentation at this many tabs.
const MAX_INDENT: usize = 13;

#[derive(Clone, Copy, Default, PartialEq)]
enum Order {
    #[default]
    Unordered,
    Ordering,
    Ordered,
}

#[derive(Clone, Copy, Default, PartialEq)]
enum Emit {
    #[default]
    NotEmitted,
    Emitting,
    Emitted,
}

/// Per-type bookkeeping for both passes.
#[derive(Clone, Copy, Default)]
struct TypeState {
    order: Order,
    emit: Emit,
    /// A forward declaration (or, for a typedef, the typedef itself) is out.
    fwd_emitted: bool,
    /// Some other type refers to this one; anonymous enums that nothing
    /// refers to are printed at top level, others inline.
    referenced: bool,
    name_resolved: bool,
}

/// Where a name lives in C: struct/union/enum tags, or ordinary identifiers
/// (typedefs and enumerators).
#[derive(Clone, Copy)]
enum Namespace {
    Tags,
    Identifiers,
}

/// The writer hashes a few hundred thousand short names; this mixes eight
/// bytes per multiply (the FxHash scheme), much faster than SipHash.
#[derive(Default)]
struct NameHasher(u64);

impl NameHasher {
    fn mix(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for NameHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            self.mix(u64::from_le_bytes([
                word[0], word[1], word[2], word[3], word[4], word[5], word[6], word[7],
            ]));
        }
        let mut tail = [0u8; 8];
        let rest = words.remainder();
        tail[..rest.len()].copy_from_slice(rest);
        self.mix(u64::from_le_bytes(tail) ^ (rest.len() as u64) << 56);
    }
}

type NameCounts<'a> = HashMap<&'a str, u32, BuildHasherDefault<NameHasher>>;

struct HeaderWriter<'a> {
    btf: &'a Btf,
    pointer_size: i64,
    states: Vec<TypeState>,
    /// Alignment of each type once computed (small, so a byte each).
    alignments: Vec<u8>,
    /// The `___N` suffixes that tell apart types sharing a name.
    dup_suffixes: HashMap<TypeId, u32>,
    tag_names: NameCounts<'a>,
    ident_names: NameCounts<'a>,
    emit_queue: Vec<TypeId>,
    /// Shared stack of declaration chains; each chain works on its own top
    /// slice, starting at the length it found.
    decl_stack: Vec<TypeId>,
    text: Vec<u8>,
}

impl<'a> HeaderWriter<'a> {
    fn new(btf: &'a Btf) -> Self {
        let count = btf.type_count() as usize;
        let mut states = vec![TypeState::default(); count];
        // Void needs no definition and counts as a strong link, so that
        // e.g. `typedef void *handle_t` is emitted where it is first needed.
        states[0].order = Order::Ordered;
        states[0].emit = Emit::Emitted;
        // Sizing the name tables up front saves rehashing as they fill.
        let (mut tags, mut idents) = (0, 0);
        for id in 1..btf.type_count() {
            let t = btf.type_or_void(id);
            t.kind.for_each_reference(|target| {
                if let Some(state) = states.get_mut(target as usize) {
                    state.referenced = true;
                }
            });
            match &t.kind {
                TypeKind::Struct(_) | TypeKind::Union(_) => tags += 1,
                TypeKind::Enum(e) | TypeKind::Enum64(e) => {
                    tags += 1;
                    idents += e.values.len();
                }
                TypeKind::Typedef(_) => idents += 1,
                _ => {}
            }
        }
        HeaderWriter {
            btf,
            pointer_size: i64::from(btf.pointer_size()),
            states,
            alignments: vec![ALIGN_UNKNOWN; count],
            dup_suffixes: HashMap::new(),
            tag_names: NameCounts::with_capacity_and_hasher(tags, Default::default()),
            ident_names: NameCounts::with_capacity_and_hasher(idents, Default::default()),
            emit_queue: Vec::new(),
            decl_stack: Vec::new(),
            text: Vec::with_capacity(2 * FLUSH_AT),
        }
    }

    /// A writer for single declarations: skips the whole-BTF reference count that only the
    /// header's ordering pass needs, so it costs two zeroed allocations.
    fn for_declarations(btf: &'a Btf) -> Self {
        let count = btf.type_count() as usize;
        HeaderWriter {
            btf,
            pointer_size: i64::from(btf.pointer_size()),
            states: vec![TypeState::default(); count],
            alignments: vec![ALIGN_UNKNOWN; count],
            dup_suffixes: HashMap::new(),
            tag_names: NameCounts::default(),
            ident_names: NameCounts::default(),
            emit_queue: Vec::new(),
            decl_stack: Vec::new(),
            text: Vec::new(),
        }
    }

    fn ty(&self, id: TypeId) -> &'a BtfType {
        self.btf.type_or_void(id)
    }

    fn state(&mut self, id: TypeId) -> &mut TypeState {
        &mut self.states[id as usize]
    }

    fn emit_top_level(&mut self, id: TypeId) -> Result<(), BtfError> {
        self.emit_queue.clear();
        self.order(id, false)?;
        // Emitting never queues, so the queue is stable while we walk it.
        for i in 0..self.emit_queue.len() {
            let queued = self.emit_queue[i];
            self.emit_type(queued, 0);
        }
        Ok(())
    }

    // ---- ordering ------------------------------------------------------

    /// Queues the named types `id` needs, dependencies first. Returns
    /// whether the link to `id` is strong (it must be fully defined before
    /// its user) or weak (a forward declaration suffices).
    fn order(&mut self, id: TypeId, through_ptr: bool) -> Result<bool, BtfError> {
        let state = self.states[id as usize];
        if state.order == Order::Ordered {
            return Ok(true);
        }
        let t = self.ty(id);
        let named = t.name_off != 0;
        if state.order == Order::Ordering {
            // A loop is only fine through a pointer to a named struct/union.
            let composite = matches!(t.kind, TypeKind::Struct(_) | TypeKind::Union(_));
            if composite && through_ptr && named {
                return Ok(false);
            }
            return Err(BtfError::TypeCycle { id });
        }
        match &t.kind {
            TypeKind::Int(_) | TypeKind::Float { .. } => {
                self.state(id).order = Order::Ordered;
                Ok(false)
            }
            TypeKind::Ptr(target) => {
                let strong = self.order(*target, true)?;
                self.state(id).order = Order::Ordered;
                Ok(strong)
            }
            TypeKind::Array(array) => self.order(array.elem, false),
            TypeKind::Struct(c) | TypeKind::Union(c) => {
                // Named and only pointed to: a forward declaration will do.
                if through_ptr && named {
                    return Ok(false);
                }
                self.state(id).order = Order::Ordering;
                for member in &c.members {
                    self.order(member.type_id, false)?;
                }
                if named {
                    self.emit_queue.push(id);
                }
                self.state(id).order = Order::Ordered;
                Ok(true)
            }
            TypeKind::Enum(_) | TypeKind::Enum64(_) | TypeKind::Fwd { .. } => {
                if named || !state.referenced {
                    self.emit_queue.push(id);
                }
                self.state(id).order = Order::Ordered;
                Ok(true)
            }
            TypeKind::Typedef(target) => {
                let strong = self.order(*target, through_ptr)?;
                if through_ptr && !strong {
                    return Ok(false);
                }
                self.emit_queue.push(id);
                self.state(id).order = Order::Ordered;
                Ok(true)
            }
            TypeKind::Volatile(target)
            | TypeKind::Const(target)
            | TypeKind::Restrict(target)
            | TypeKind::TypeTag { target, .. } => self.order(*target, through_ptr),
            TypeKind::FuncProto(proto) => {
                let mut strong = self.order(proto.ret, through_ptr)?;
                for param in &proto.params {
                    strong |= self.order(param.type_id, through_ptr)?;
                }
                Ok(strong)
            }
            TypeKind::Void
            | TypeKind::Func { .. }
            | TypeKind::Var { .. }
            | TypeKind::Datasec { .. }
            | TypeKind::DeclTag { .. } => {
                self.state(id).order = Order::Ordered;
                Ok(false)
            }
        }
    }

    // ---- emission ------------------------------------------------------

    /// Emits `id` and what it needs. `container` is the struct (or typedef)
    /// being defined around this reference, 0 at top level.
    fn emit_type(&mut self, id: TypeId, container: TypeId) {
        let state = self.states[id as usize];
        if state.emit == Emit::Emitted {
            return;
        }
        let t = self.ty(id);
        let top_level = container == 0;
        if state.emit == Emit::Emitting {
            // Referenced while being defined: break the loop with a forward
            // declaration where C allows one.
            if state.fwd_emitted {
                return;
            }
            match &t.kind {
                TypeKind::Struct(_) | TypeKind::Union(_) => {
                    if id == container || t.name_off == 0 {
                        return;
                    }
                    self.emit_struct_fwd(id);
                    self.put(";\n\n");
                    self.state(id).fwd_emitted = true;
                }
                TypeKind::Typedef(target) => {
                    if !self.is_builtin_typedef(t) {
                        self.emit_typedef_def(id, *target);
                        self.put(";\n\n");
                    }
                    self.state(id).fwd_emitted = true;
                }
                _ => {}
            }
            return;
        }

        match &t.kind {
            TypeKind::Int(_) => {
                self.emit_missing_alias(id);
                self.state(id).emit = Emit::Emitted;
            }
            TypeKind::Enum(e) | TypeKind::Enum64(e) => {
                if top_level {
                    self.emit_enum_def(id, e, 0);
                    self.put(";\n\n");
                }
                self.state(id).emit = Emit::Emitted;
            }
            TypeKind::Ptr(target)
            | TypeKind::Volatile(target)
            | TypeKind::Const(target)
            | TypeKind::Restrict(target)
            | TypeKind::TypeTag { target, .. } => self.emit_type(*target, container),
            TypeKind::Array(array) => self.emit_type(array.elem, container),
            TypeKind::Fwd { .. } => {
                self.emit_fwd(id);
                self.put(";\n\n");
                self.state(id).emit = Emit::Emitted;
            }
            TypeKind::Typedef(target) => {
                self.state(id).emit = Emit::Emitting;
                self.emit_type(*target, id);
                // A pointer may have needed the typedef while its target
                // was being defined; then it is already out.
                if !self.states[id as usize].fwd_emitted && !self.is_builtin_typedef(t) {
                    self.emit_typedef_def(id, *target);
                    self.put(";\n\n");
                }
                self.state(id).emit = Emit::Emitted;
            }
            TypeKind::Struct(c) | TypeKind::Union(c) => {
                self.state(id).emit = Emit::Emitting;
                let anonymous = t.name_off == 0;
                if top_level || anonymous {
                    // The members will be spelled out: make sure what they
                    // point to is declared.
                    let inner = if anonymous { container } else { id };
                    for member in &c.members {
                        self.emit_type(member.type_id, inner);
                    }
                } else if !state.fwd_emitted && id != container {
                    self.emit_struct_fwd(id);
                    self.put(";\n\n");
                    self.state(id).fwd_emitted = true;
                }
                if top_level {
                    self.emit_struct_def(id, c, 0);
                    self.put(";\n\n");
                    self.state(id).emit = Emit::Emitted;
                } else {
                    self.state(id).emit = Emit::NotEmitted;
                }
            }
            TypeKind::FuncProto(proto) => {
                self.emit_type(proto.ret, container);
                for param in &proto.params {
                    self.emit_type(param.type_id, container);
                }
            }
            TypeKind::Void
            | TypeKind::Float { .. }
            | TypeKind::Func { .. }
            | TypeKind::Var { .. }
            | TypeKind::Datasec { .. }
            | TypeKind::DeclTag { .. } => {}
        }
    }

    /// GCC describes Arm SIMD types with its internal `__PolyN_t` names,
    /// which clang lacks: alias them to standard types.
    fn emit_missing_alias(&mut self, id: TypeId) {
        const ALIASES: [(&str, &str); 4] = [
            ("__Poly8_t", "unsigned char"),
            ("__Poly16_t", "unsigned short"),
            ("__Poly64_t", "unsigned long long"),
            ("__Poly128_t", "unsigned __int128"),
        ];
        let (name, _) = self.resolve_name(id, Namespace::Tags);
        if let Some((_, standard)) = ALIASES.iter().find(|(poly, _)| *poly == name) {
            self.put("typedef ");
            self.put(standard);
            self.put(" ");
            self.put(name);
            self.put(";\n\n");
        }
    }

    /// `__builtin_va_list` is the compiler's own; redefining it breaks.
    fn is_builtin_typedef(&self, t: &BtfType) -> bool {
        t.name_off != 0 && self.btf.name(t.name_off) == "__builtin_va_list"
    }

    fn emit_struct_fwd(&mut self, id: TypeId) {
        let t = self.ty(id);
        self.put(if matches!(t.kind, TypeKind::Union(_)) {
            "union"
        } else {
            "struct"
        });
        if t.name_off != 0 {
            self.put(" ");
            self.put_name(id, Namespace::Tags);
        }
    }

    fn emit_fwd(&mut self, id: TypeId) {
        let is_union = matches!(self.ty(id).kind, TypeKind::Fwd { is_union: true });
        self.put(if is_union { "union " } else { "struct " });
        self.put_name(id, Namespace::Tags);
    }

    fn emit_typedef_def(&mut self, id: TypeId, target: TypeId) {
        let (name, _) = self.resolve_name(id, Namespace::Identifiers);
        // Old GCCs describe __gnuc_va_list as a typedef of void.
        if target == 0 && name == "__gnuc_va_list" {
            self.put("typedef __builtin_va_list __gnuc_va_list");
            return;
        }
        self.put("typedef ");
        let declared = if name.is_empty() {
            DeclName::Field("")
        } else {
            DeclName::Type(id)
        };
        self.emit_decl(target, declared, 0);
    }

    fn emit_struct_def(&mut self, id: TypeId, c: &'a Composite, indent: usize) {
        let t = self.ty(id);
        let is_struct = matches!(t.kind, TypeKind::Struct(_));
        let align = self.align_of(id);
        let packed = is_struct && self.is_packed(c);
        self.emit_struct_fwd(id);
        self.put(" {");

        let mut end_of_previous: i64 = 0;
        let mut previous_was_bitfield = false;
        for member in &c.members {
            let bitfield_size = i64::from(member.bitfield_size);
            let offset = i64::from(member.bit_offset);
            let member_align = if packed {
                1
            } else {
                self.align_of(member.type_id)
            };
            let in_bitfield = previous_was_bitfield && bitfield_size != 0;
            self.emit_padding(
                end_of_previous,
                offset,
                member_align,
                in_bitfield,
                indent + 1,
            );
            self.put("\n");
            self.put_indent(indent + 1);
            let name = self.btf.name(member.name_off);
            self.emit_decl(member.type_id, DeclName::Field(name), indent + 1);
            if bitfield_size != 0 {
                self.put(": ");
                self.put_int(bitfield_size);
                end_of_previous = offset + bitfield_size;
                previous_was_bitfield = true;
            } else {
                let size = self.btf.size_of(member.type_id).unwrap_or(0);
                let bits = i64::try_from(size).unwrap_or(i64::MAX).saturating_mul(8);
                end_of_previous = offset.saturating_add(bits);
                previous_was_bitfield = false;
            }
            self.put(";");
        }
        if is_struct {
            let size_bits = i64::from(c.size) * 8;
            self.emit_padding(end_of_previous, size_bits, align, false, indent + 1);
        }
        // `struct empty {}` stays on one line.
        if !c.members.is_empty() || c.size != 0 {
            self.put("\n");
            self.put_indent(indent);
        }
        self.put("}");
        if packed {
            self.put(" __attribute__((packed))");
        }
    }

    /// Fills the gap between bit offsets `from` and `to` with anonymous
    /// bitfields, leaning on natural alignment to keep them few: first pad
    /// to a boundary of the widest of long/int/short/char that fits, then
    /// fill whole units, then a smaller tail.
    fn emit_padding(
        &mut self,
        from: i64,
        to: i64,
        next_align: i64,
        in_bitfield: bool,
        indent: usize,
    ) {
        if from >= to {
            return;
        }
        let pads = [
            ("long", self.pointer_size * 8),
            ("int", 32),
            ("short", 16),
            ("char", 8),
        ];
        let mut current = from;
        let (mut pad_type, mut pad_bits) = pads[pads.len() - 1];
        let mut aligned = round_up(current, pad_bits);
        for (name, bits) in pads {
            (pad_type, pad_bits) = (name, bits);
            aligned = round_up(current, bits);
            if aligned <= to {
                break;
            }
        }
        if aligned > current && aligned <= to {
            // An explicit `type: 0` is needed when the compiler would not
            // align there by itself: the next member's alignment is weaker,
            // or the remaining gap would swallow a `type: N` entirely.
            let weaker_member_align = aligned == to && round_up(current, next_align * 8) != aligned;
            let swallowed = aligned != to && to - aligned <= aligned - current;
            if in_bitfield || weaker_member_align || swallowed {
                let width = if in_bitfield { aligned - current } else { 0 };
                self.emit_pad_member(pad_type, width, indent);
            }
            current = aligned;
        }
        while current != to {
            let bits = (to - current).min(pad_bits);
            if bits == pad_bits {
                self.emit_pad_member(pad_type, pad_bits, indent);
                current += bits;
                continue;
            }
            // The tail uses the smallest type that holds it.
            if let Some(&(name, _)) = pads.iter().rev().find(|&&(_, size)| size >= bits) {
                self.emit_pad_member(name, bits, indent);
            }
            current += bits;
        }
    }

    fn emit_pad_member(&mut self, pad_type: &str, bits: i64, indent: usize) {
        self.put("\n");
        self.put_indent(indent);
        self.put(pad_type);
        self.put(": ");
        self.put_int(bits);
        self.put(";");
    }

    /// A struct is packed if some plain member sits off its natural
    /// alignment or the size is not a multiple of the alignment.
    fn is_packed(&mut self, c: &Composite) -> bool {
        let mut max_align = 1;
        for member in &c.members {
            let align = self.align_of(member.type_id);
            if align != 0
                && member.bitfield_size == 0
                && i64::from(member.bit_offset) % (8 * align) != 0
            {
                return true;
            }
            max_align = max_align.max(align);
        }
        i64::from(c.size) % max_align != 0
    }

    /// Natural alignment in bytes as libbpf computes it; 0 for types that
    /// have none (void, functions). Cached: struct members ask repeatedly.
    fn align_of(&mut self, id: TypeId) -> i64 {
        let cached = self.alignments[id as usize];
        if cached != ALIGN_UNKNOWN {
            return i64::from(cached);
        }
        let align = match &self.ty(id).kind {
            TypeKind::Int(int) => self.pointer_size.min(i64::from(int.size)),
            TypeKind::Enum(e) | TypeKind::Enum64(e) => self.pointer_size.min(i64::from(e.size)),
            TypeKind::Float { size } => self.pointer_size.min(i64::from(*size)),
            TypeKind::Ptr(_) => self.pointer_size,
            TypeKind::Typedef(target)
            | TypeKind::Volatile(target)
            | TypeKind::Const(target)
            | TypeKind::Restrict(target)
            | TypeKind::TypeTag { target, .. } => self.align_of(*target),
            TypeKind::Array(array) => self.align_of(array.elem),
            TypeKind::Struct(c) | TypeKind::Union(c) => self.composite_align(c),
            _ => 0,
        };
        // Absurd alignments are recomputed rather than cached.
        self.alignments[id as usize] = u8::try_from(align).unwrap_or(ALIGN_UNKNOWN);
        align
    }

    fn composite_align(&mut self, c: &Composite) -> i64 {
        let mut max_align = 1;
        for member in &c.members {
            let align = self.align_of(member.type_id);
            if align <= 0 {
                return 0;
            }
            max_align = max_align.max(align);
            // A member off its natural alignment means a packed layout.
            if member.bitfield_size == 0 && i64::from(member.bit_offset) % (8 * align) != 0 {
                return 1;
            }
        }
        if i64::from(c.size) % max_align != 0 {
            return 1;
        }
        max_align
    }

    fn emit_enum_def(&mut self, id: TypeId, e: &'a EnumType, indent: usize) {
        let t = self.ty(id);
        let is_enum64 = matches!(t.kind, TypeKind::Enum64(_));
        self.put("enum");
        if t.name_off != 0 {
            self.put(" ");
            self.put_name(id, Namespace::Tags);
        }
        if e.values.is_empty() {
            return;
        }
        self.put(" {");
        for value in &e.values {
            self.put("\n");
            self.put_indent(indent + 1);
            let name = self.btf.name(value.name_off);
            self.put(name);
            // Enumerators share the identifier namespace with typedefs.
            let dups = bump(&mut self.ident_names, name);
            if dups > 1 {
                self.put("___");
                self.put_int(i64::from(dups));
            }
            self.put(" = ");
            match (is_enum64, e.signed) {
                (false, true) => self.put_int(value.as_i64(32)),
                (false, false) => self.put_uint(value.value & 0xffff_ffff),
                (true, true) => {
                    self.put_int(value.as_i64(64));
                    self.put("LL");
                }
                (true, false) => {
                    self.put_uint(value.value);
                    self.put("ULL");
                }
            }
            self.put(",");
        }
        self.put("\n");
        self.put_indent(indent);
        self.put("}");
        // Enums whose size the compiler would not pick by itself.
        if e.size == 1 {
            self.put(" __attribute__((mode(byte)))");
        } else if e.size == 8 && self.pointer_size == 8 {
            // libbpf checks only the upper bits, which misses small
            // negative values of a signed enum64; check the real range.
            let fits_in_32_bits = e.values.iter().all(|v| {
                if e.signed {
                    i32::try_from(v.as_i64(64)).is_ok()
                } else {
                    v.value >> 32 == 0
                }
            });
            if !is_enum64 || fits_in_32_bits {
                self.put(" __attribute__((mode(word)))");
            }
        }
    }

    // ---- declarations --------------------------------------------------

    /// Emits a declaration of `name` with type `id`, e.g. `int (*name)[4]`.
    fn emit_decl(&mut self, mut id: TypeId, name: DeclName<'a>, indent: usize) {
        let start = self.decl_stack.len();
        loop {
            self.decl_stack.push(id);
            if id == 0 {
                break;
            }
            match &self.ty(id).kind {
                TypeKind::Ptr(next)
                | TypeKind::Volatile(next)
                | TypeKind::Const(next)
                | TypeKind::Restrict(next)
                | TypeKind::TypeTag { target: next, .. } => id = *next,
                TypeKind::FuncProto(proto) => id = proto.ret,
                TypeKind::Array(array) => id = array.elem,
                _ => break,
            }
        }
        self.emit_decl_chain(start, name, indent);
        self.decl_stack.truncate(start);
    }

    /// Prints the chain on the stack above `bottom`, innermost type first.
    fn emit_decl_chain(&mut self, bottom: usize, name: DeclName<'a>, indent: usize) {
        // Whether the last thing printed was `*`, so `int **p` gets no
        // spaces between stars and the name; a lone pointer inside a
        // function pointer's parentheses starts the chain.
        let mut last_was_ptr = true;
        while self.decl_stack.len() > bottom {
            let Some(id) = self.decl_stack.pop() else {
                return;
            };
            if id == 0 {
                self.emit_mods(bottom);
                self.put("void");
                last_was_ptr = false;
                continue;
            }
            let t = self.ty(id);
            match &t.kind {
                TypeKind::Int(_) | TypeKind::Float { .. } => {
                    self.emit_mods(bottom);
                    self.put(self.btf.name(t.name_off));
                }
                TypeKind::Struct(c) | TypeKind::Union(c) => {
                    self.emit_mods(bottom);
                    if t.name_off == 0 {
                        self.emit_struct_def(id, c, indent);
                    } else {
                        self.emit_struct_fwd(id);
                    }
                }
                TypeKind::Enum(e) | TypeKind::Enum64(e) => {
                    self.emit_mods(bottom);
                    if t.name_off == 0 {
                        self.emit_enum_def(id, e, indent);
                    } else {
                        self.put("enum ");
                        self.put_name(id, Namespace::Tags);
                    }
                }
                TypeKind::Fwd { .. } => {
                    self.emit_mods(bottom);
                    self.emit_fwd(id);
                }
                TypeKind::Typedef(_) => {
                    self.emit_mods(bottom);
                    self.put_name(id, Namespace::Identifiers);
                }
                TypeKind::Ptr(_) => self.put(if last_was_ptr { "*" } else { " *" }),
                TypeKind::Volatile(_) => self.put(" volatile"),
                TypeKind::Const(_) => self.put(" const"),
                TypeKind::Restrict(_) => self.put(" restrict"),
                TypeKind::TypeTag { is_attribute, .. } => {
                    self.emit_mods(bottom);
                    let tag = self.btf.name(t.name_off);
                    if *is_attribute {
                        self.put(" __attribute__((");
                        self.put(tag);
                        self.put("))");
                    } else {
                        self.put(" __attribute__((btf_type_tag(\"");
                        self.put(tag);
                        self.put("\")))");
                    }
                }
                TypeKind::Array(array) => {
                    // Qualifiers on arrays (a GCC quirk) mean nothing; drop them.
                    self.drop_mods(bottom);
                    if self.decl_stack.len() == bottom {
                        self.emit_decl_name(name, last_was_ptr);
                    } else {
                        let next = self.decl_stack[self.decl_stack.len() - 1];
                        let multidimensional = matches!(self.ty(next).kind, TypeKind::Array(_));
                        if !name.is_empty() && !last_was_ptr {
                            self.put(" ");
                        }
                        // `int (*p)[4]` needs parentheses; `int a[2][4]` not.
                        if !multidimensional {
                            self.put("(");
                        }
                        self.emit_decl_chain(bottom, name, indent);
                        if !multidimensional {
                            self.put(")");
                        }
                    }
                    self.put("[");
                    self.put_uint(u64::from(array.len));
                    self.put("]");
                    return;
                }
                TypeKind::FuncProto(proto) => {
                    // GCC marks noreturn function pointers volatile; drop it.
                    self.drop_mods(bottom);
                    if self.decl_stack.len() > bottom {
                        self.put(" (");
                        self.emit_decl_chain(bottom, name, indent);
                        self.put(")");
                    } else {
                        self.emit_decl_name(name, last_was_ptr);
                    }
                    self.put("(");
                    // No parameters, or clang's lone `void` one: `(void)`.
                    if proto.params.is_empty() {
                        self.put("void)");
                        return;
                    }
                    for (i, param) in proto.params.iter().enumerate() {
                        if i > 0 {
                            self.put(", ");
                        }
                        let param_name = self.btf.name(param.name_off);
                        self.emit_decl(param.type_id, DeclName::Field(param_name), indent);
                    }
                    if proto.variadic {
                        self.put(", ...");
                    }
                    self.put(")");
                    return;
                }
                TypeKind::Void
                | TypeKind::Func { .. }
                | TypeKind::Var { .. }
                | TypeKind::Datasec { .. }
                | TypeKind::DeclTag { .. } => return,
            }
            last_was_ptr = matches!(t.kind, TypeKind::Ptr(_));
        }
        self.emit_decl_name(name, last_was_ptr);
    }

    /// Prints qualifiers sitting right above a base type, `const int`-style.
    fn emit_mods(&mut self, bottom: usize) {
        while self.decl_stack.len() > bottom {
            let id = self.decl_stack[self.decl_stack.len() - 1];
            match self.ty(id).kind {
                TypeKind::Volatile(_) => self.put("volatile "),
                TypeKind::Const(_) => self.put("const "),
                TypeKind::Restrict(_) => self.put("restrict "),
                _ => return,
            }
            self.decl_stack.pop();
        }
    }

    fn drop_mods(&mut self, bottom: usize) {
        while self.decl_stack.len() > bottom {
            let id = self.decl_stack[self.decl_stack.len() - 1];
            match self.ty(id).kind {
                TypeKind::Volatile(_)
                | TypeKind::Const(_)
                | TypeKind::Restrict(_)
                | TypeKind::TypeTag { .. } => self.decl_stack.pop(),
                _ => return,
            };
        }
    }

    fn emit_decl_name(&mut self, name: DeclName<'a>, last_was_ptr: bool) {
        if name.is_empty() {
            return;
        }
        if !last_was_ptr {
            self.put(" ");
        }
        match name {
            DeclName::Field(field) => self.put(field),
            DeclName::Type(id) => self.put_name(id, Namespace::Identifiers),
        }
    }

    // ---- names and text ------------------------------------------------

    /// The name of `id` and its duplicate suffix, fixed on first use:
    /// the first type to be printed under a name keeps it, later ones get
    /// `___2`, `___3`, ... Forward declarations and empty enums never clash.
    fn resolve_name(&mut self, id: TypeId, namespace: Namespace) -> (&'a str, u32) {
        let t = self.ty(id);
        let name = self.btf.name(t.name_off);
        if t.name_off == 0 || self.states[id as usize].name_resolved {
            let suffix = self.dup_suffixes.get(&id).copied().unwrap_or(0);
            return (name, suffix);
        }
        let never_clashes = match &t.kind {
            TypeKind::Fwd { .. } => true,
            TypeKind::Enum(e) => e.values.is_empty(),
            _ => false,
        };
        let mut suffix = 0;
        if !never_clashes {
            let names = match namespace {
                Namespace::Tags => &mut self.tag_names,
                Namespace::Identifiers => &mut self.ident_names,
            };
            let dups = bump(names, name);
            if dups > 1 {
                suffix = dups;
            }
        }
        self.state(id).name_resolved = true;
        if suffix != 0 {
            self.dup_suffixes.insert(id, suffix);
        }
        (name, suffix)
    }

    fn put_name(&mut self, id: TypeId, namespace: Namespace) {
        let (name, suffix) = self.resolve_name(id, namespace);
        self.put(name);
        if suffix != 0 {
            self.put("___");
            self.put_uint(u64::from(suffix));
        }
    }

    fn put(&mut self, s: &str) {
        self.text.extend_from_slice(s.as_bytes());
    }

    fn put_indent(&mut self, indent: usize) {
        let tabs = indent.min(MAX_INDENT);
        self.text.extend(std::iter::repeat_n(b'\t', tabs));
    }

    fn put_uint(&mut self, value: u64) {
        put_decimal(&mut self.text, value);
    }

    fn put_int(&mut self, value: i64) {
        if value < 0 {
            self.text.push(b'-');
        }
        put_decimal(&mut self.text, value.unsigned_abs());
    }
}

/// What a declaration declares: a member/parameter name (maybe empty) or a
/// typedef, whose name may carry a duplicate suffix.
#[derive(Clone, Copy)]
enum DeclName<'a> {
    Field(&'a str),
    Type(TypeId),
}

impl DeclName<'_> {
    fn is_empty(&self) -> bool {
        matches!(self, DeclName::Field(""))
    }
}

/// Counts one more use of `name`, returning the new count.
fn bump<'a>(names: &mut NameCounts<'a>, name: &'a str) -> u32 {
    let count = names.entry(name).or_insert(0);
    *count += 1;
    *count
}

fn round_up(value: i64, unit: i64) -> i64 {
    if unit <= 0 {
        return value;
    }
    match value.rem_euclid(unit) {
        0 => value,
        rem => value.saturating_add(unit - rem),
    }
}

/// Appends `value` in decimal without going through `fmt`.
fn put_decimal(out: &mut Vec<u8>, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;
    use std::process::{Command, Stdio};

    use super::*;
    use crate::btf::types::test_blob::{every_kind, BtfBuilder};
    use crate::btf::types::MAX_REFERENCE_DEPTH as MAX_NESTING;

    /// The header for `builder`'s types, without the fixed prologue and
    /// epilogue.
    fn body(builder: &BtfBuilder) -> String {
        let btf = Btf::parse(&builder.build()).expect("valid blob");
        let mut out = Vec::new();
        write_c_header(&btf, &mut out).expect("writing to a Vec");
        let text = String::from_utf8(out).expect("header is text");
        let inner = text
            .strip_prefix(PROLOGUE)
            .and_then(|rest| rest.strip_suffix(EPILOGUE))
            .expect("prologue and epilogue");
        inner.to_string()
    }

    /// Compiles `header` plus `checks` for the BPF target, so layouts are
    /// judged by clang itself.
    fn assert_compiles(header: &str, checks: &str) {
        let mut clang = Command::new("clang")
            // A header without structs leaves the pragma unused: fine here.
            .args(["-target", "bpf", "-fsyntax-only", "-Werror"])
            .args(["-Wno-pragma-clang-attribute", "-x", "c", "-"])
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("clang must be installed for these tests");
        let source = format!("{PROLOGUE}{header}{EPILOGUE}\n{checks}\n");
        clang
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(source.as_bytes())
            .expect("feed clang");
        let output = clang.wait_with_output().expect("clang runs");
        assert!(
            output.status.success(),
            "clang rejected:\n{source}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    #[test]
    fn bitfields_and_gaps_between_them() {
        let mut b = BtfBuilder::new();
        let uint = b.int("unsigned int", 4, false);
        let int = b.int("int", 4, true);
        b.struct_(
            "flags",
            8,
            &[("a", uint, 0, 3), ("b", uint, 8, 4), ("c", int, 32, 0)],
        );
        let header = body(&b);
        assert_eq!(
            header,
            "struct flags {\n\tunsigned int a: 3;\n\tchar: 5;\n\tunsigned int b: 4;\n\tint c;\n};\n\n"
        );
        assert_compiles(
            &header,
            "_Static_assert(sizeof(struct flags) == 8, \"size\");\n\
             _Static_assert(__builtin_offsetof(struct flags, c) == 4, \"c\");",
        );
    }

    #[test]
    fn anonymous_nested_union_is_inlined() {
        let mut b = BtfBuilder::new();
        let int = b.int("int", 4, true);
        let long = b.int("long int", 8, true);
        let inner = b.union("", 8, &[("i", int, 0, 0), ("l", long, 0, 0)]);
        b.struct_("outer", 16, &[("kind", int, 0, 0), ("", inner, 64, 0)]);
        let header = body(&b);
        assert_eq!(
            header,
            "struct outer {\n\tint kind;\n\tunion {\n\t\tint i;\n\t\tlong int l;\n\t};\n};\n\n"
        );
        assert_compiles(
            &header,
            "_Static_assert(sizeof(struct outer) == 16, \"size\");\n\
             _Static_assert(__builtin_offsetof(struct outer, l) == 8, \"l\");",
        );
    }

    #[test]
    fn packed_struct_gets_the_attribute() {
        let mut b = BtfBuilder::new();
        let ch = b.int("char", 1, true);
        let int = b.int("int", 4, true);
        b.struct_("wire", 5, &[("tag", ch, 0, 0), ("value", int, 8, 0)]);
        let header = body(&b);
        assert_eq!(
            header,
            "struct wire {\n\tchar tag;\n\tint value;\n} __attribute__((packed));\n\n"
        );
        assert_compiles(
            &header,
            "_Static_assert(sizeof(struct wire) == 5, \"size\");\n\
             _Static_assert(__builtin_offsetof(struct wire, value) == 1, \"value\");",
        );
    }

    #[test]
    fn explicit_padding_where_alignment_would_not_reproduce_offsets() {
        let mut b = BtfBuilder::new();
        let int = b.int("int", 4, true);
        // `b` sits 4 bytes past natural alignment, and 8 bytes of tail
        // padding follow it (as with __attribute__((aligned(8))) members).
        b.struct_("gappy", 24, &[("a", int, 0, 0), ("b", int, 64, 0)]);
        let header = body(&b);
        assert_eq!(
            header,
            "struct gappy {\n\tint a;\n\tlong: 0;\n\tint b;\n\tlong: 64;\n};\n\n"
        );
        assert_compiles(
            &header,
            "_Static_assert(sizeof(struct gappy) == 24, \"size\");\n\
             _Static_assert(__builtin_offsetof(struct gappy, b) == 8, \"b\");",
        );
    }

    #[test]
    fn function_pointers_members_typedefs_and_arrays() {
        let mut b = BtfBuilder::new();
        let int = b.int("int", 4, true);
        let ch = b.int("char", 1, true);
        let const_char = b.const_(ch);
        let string = b.ptr(const_char);
        let ops_ptr = b.ptr(7); // 5
        let open = b.func_proto(int, &[("", ops_ptr), ("", string)]); // 6
        let ops = b.struct_(
            "ops",
            40,
            &[
                ("open", 11, 0, 0),
                ("release", 12, 64, 0),
                ("table", 13, 128, 0),
            ],
        );
        assert_eq!(ops, 7);
        let no_args = b.func_proto(0, &[]); // 8
        let takes_int = b.func_proto(0, &[("", int)]); // 9
        let takes_int_ptr = b.ptr(takes_int); // 10
        b.ptr(open); // 11
        b.ptr(no_args); // 12
        b.array(14, int, 3); // 13: handler_t table[3]
        b.typedef("handler_t", takes_int_ptr); // 14
        let variadic = b.func_proto(int, &[("fmt", string), ("", 0)]);
        let printf_ptr = b.ptr(variadic);
        b.struct_("logger", 8, &[("log", printf_ptr, 0, 0)]);
        let raw_table = b.array(takes_int_ptr, int, 2);
        b.struct_("dispatch", 16, &[("fns", raw_table, 0, 0)]);
        let header = body(&b);
        assert_eq!(
            header,
            "typedef void (*handler_t)(int);\n\n\
             struct ops {\n\
             \tint (*open)(struct ops *, const char *);\n\
             \tvoid (*release)(void);\n\
             \thandler_t table[3];\n\
             };\n\n\
             struct logger {\n\tint (*log)(const char *fmt, ...);\n};\n\n\
             struct dispatch {\n\tvoid (*fns[2])(int);\n};\n\n"
        );
        assert_compiles(
            &header,
            "_Static_assert(sizeof(struct ops) == 40, \"size\");",
        );
    }

    #[test]
    fn pointer_cycle_gets_a_forward_declaration() {
        let mut b = BtfBuilder::new();
        b.struct_("a", 8, &[("b", 3, 0, 0)]); // 1
        b.struct_("b", 8, &[("a", 4, 0, 0)]); // 2
        b.ptr(2); // 3
        b.ptr(1); // 4
        let header = body(&b);
        assert_eq!(
            header,
            "struct b;\n\nstruct a {\n\tstruct b *b;\n};\n\nstruct b {\n\tstruct a *a;\n};\n\n"
        );
        assert_compiles(&header, "");
    }

    #[test]
    fn embedded_struct_is_defined_before_its_user() {
        let mut b = BtfBuilder::new();
        let int = b.int("int", 4, true);
        b.struct_("outer", 8, &[("inner", 3, 0, 0), ("n", int, 32, 0)]); // 2
        b.struct_("inner", 4, &[("x", int, 0, 0)]); // 3
        let header = body(&b);
        assert_eq!(
            header,
            "struct inner {\n\tint x;\n};\n\nstruct outer {\n\tstruct inner inner;\n\tint n;\n};\n\n"
        );
    }

    #[test]
    fn enums_of_every_width_and_sign() {
        let mut b = BtfBuilder::new();
        b.enum32("sign", 4, true, &[("NEG", -1), ("POS", 1)]);
        b.enum32("tiny", 1, false, &[("T0", 0), ("T1", 255)]);
        b.enum64("wide", 8, false, &[("SMALL", 1), ("HUGE", 1 << 40)]);
        b.enum64("", 8, false, &[("ANON_A", 1), ("ANON_B", 2)]);
        b.enum64("neg64", 8, true, &[("MINUS", (-5i64) as u64)]);
        let header = body(&b);
        assert_eq!(
            header,
            "enum sign {\n\tNEG = -1,\n\tPOS = 1,\n};\n\n\
             enum tiny {\n\tT0 = 0,\n\tT1 = 255,\n} __attribute__((mode(byte)));\n\n\
             enum wide {\n\tSMALL = 1ULL,\n\tHUGE = 1099511627776ULL,\n};\n\n\
             enum {\n\tANON_A = 1ULL,\n\tANON_B = 2ULL,\n} __attribute__((mode(word)));\n\n\
             enum neg64 {\n\tMINUS = -5LL,\n} __attribute__((mode(word)));\n\n"
        );
        assert_compiles(
            &header,
            "_Static_assert(sizeof(enum tiny) == 1, \"tiny\");\n\
             _Static_assert(sizeof(enum wide) == 8, \"wide\");\n\
             _Static_assert(sizeof(ANON_A) == 8 || sizeof(ANON_A) == 4, \"anon\");\n\
             _Static_assert(sizeof(enum neg64) == 8, \"neg64\");",
        );
    }

    #[test]
    fn clashing_names_get_numbered_suffixes() {
        let mut b = BtfBuilder::new();
        let int = b.int("int", 4, true);
        b.struct_("dup", 4, &[("x", int, 0, 0)]);
        b.struct_("dup", 8, &[("x", int, 0, 0), ("y", int, 32, 0)]);
        b.enum32("first", 4, false, &[("SAME", 0)]);
        b.enum32("second", 4, false, &[("SAME", 1)]);
        b.typedef("dup_t", 2);
        b.typedef("dup_t", 3);
        let header = body(&b);
        assert_eq!(
            header,
            "struct dup {\n\tint x;\n};\n\n\
             struct dup___2 {\n\tint x;\n\tint y;\n};\n\n\
             enum first {\n\tSAME = 0,\n};\n\n\
             enum second {\n\tSAME___2 = 1,\n};\n\n\
             typedef struct dup dup_t;\n\n\
             typedef struct dup___2 dup_t___2;\n\n"
        );
        assert_compiles(&header, "");
    }

    #[test]
    fn declarators_with_qualifiers_arrays_and_tags() {
        let mut b = BtfBuilder::new();
        let int = b.int("int", 4, true); // 1
        let ch = b.int("char", 1, true); // 2
        let const_char = b.const_(ch); // 3
        let string = b.ptr(const_char); // 4
        let const_string = b.const_(string); // 5
        let volatile_int = b.volatile(int); // 6
        let volatile_ptr = b.ptr(volatile_int); // 7
        let row = b.array(int, int, 3); // 8
        let grid = b.array(row, int, 2); // 9
        let row_ptr = b.ptr(row); // 10
        let user = b.type_tag("user", int); // 11
        let user_ptr = b.ptr(user); // 12
        let void_ptr = b.ptr(0); // 13
        let handle = b.typedef("handle_t", void_ptr); // 14
        let va = b.typedef("__builtin_va_list", void_ptr); // 15
        b.struct_(
            "decls",
            88,
            &[
                ("name", const_string, 0, 0),
                ("reg", volatile_ptr, 64, 0),
                ("grid", grid, 128, 0),
                ("rows", row_ptr, 320, 0),
                ("uptr", user_ptr, 384, 0),
                ("h", handle, 448, 0),
                ("args", va, 512, 0),
                ("strings", 17, 576, 0),
            ],
        );
        let string_ptr = b.ptr(string); // 17
        assert_eq!(string_ptr, 17);
        let header = body(&b);
        assert_eq!(
            header,
            "typedef void *handle_t;\n\n\
             struct decls {\n\
             \tconst char * const name;\n\
             \tvolatile int *reg;\n\
             \tint grid[2][3];\n\
             \tint (*rows)[3];\n\
             \tint __attribute__((btf_type_tag(\"user\"))) *uptr;\n\
             \thandle_t h;\n\
             \t__builtin_va_list args;\n\
             \tconst char **strings;\n\
             \tlong: 64;\n\
             };\n\n"
        );
        assert_compiles(
            &header,
            "_Static_assert(sizeof(struct decls) == 88, \"size\");\n\
             _Static_assert(__builtin_offsetof(struct decls, rows) == 40, \"rows\");",
        );
    }

    #[test]
    fn functions_variables_and_tags_produce_no_output() {
        let header = body(&every_kind());
        assert!(
            !header.contains(" f("),
            "FUNC must not be emitted:\n{header}"
        );
        assert!(!header.contains(".data"), "DATASEC must not be emitted");
        assert!(header.contains("struct pair {"));
        assert!(header.contains("typedef int int_t;"));
        assert!(header.contains("union later;"));
        assert_compiles(&header, "");
    }

    #[test]
    fn single_declarations_of_functions_structs_and_typedefs() {
        let mut b = BtfBuilder::new();
        let int = b.int("int", 4, true);
        let char_ = b.int("char", 1, true);
        let const_char = b.const_(char_);
        let string = b.ptr(const_char);
        let how = b.struct_("open_how", 8, &[("flags", int, 0, 0), ("mode", int, 32, 0)]);
        let how_ptr = b.ptr(how);
        let proto = b.func_proto(int, &[("dfd", int), ("filename", string), ("how", how_ptr)]);
        let func = b.func("do_sys_openat2", proto, 1);
        let void_ptr = b.ptr(0);
        let tp_proto = b.func_proto(0, &[("", void_ptr), ("", int)]);
        let tp_ptr = b.ptr(tp_proto);
        let typedef = b.typedef("btf_trace_x", tp_ptr);
        let btf = Btf::parse(&b.build()).expect("valid blob");
        let declare = |id| {
            let mut out = Vec::new();
            write_c_declaration(&btf, id, &mut out).expect("writing to a Vec");
            String::from_utf8(out).expect("text")
        };
        assert_eq!(
            declare(func),
            "int do_sys_openat2(int dfd, const char *filename, struct open_how *how);\n"
        );
        assert_eq!(
            declare(how),
            "struct open_how {\n\tint flags;\n\tint mode;\n};\n"
        );
        assert_eq!(
            declare(typedef),
            "typedef void (*btf_trace_x)(void *, int);\n"
        );
        assert!(write_c_declaration(&btf, 999, &mut Vec::new()).is_err());
    }

    /// Anonymous structs nested by value `levels` deep, each through a const.
    fn nested(levels: u16) -> BtfBuilder {
        let mut b = BtfBuilder::new();
        let int = b.int("int", 4, true);
        let mut inner = b.struct_("", 4, &[("leaf", int, 0, 0)]);
        for _ in 0..levels {
            let konst = b.const_(inner);
            inner = b.struct_("", 4, &[("", konst, 0, 0)]);
        }
        b.struct_("deep", 4, &[("", inner, 0, 0)]);
        b
    }

    #[test]
    fn deepest_accepted_nesting_fits_the_stack() {
        // The writer recurses once per level; at the deepest nesting the
        // parser accepts, it must not overflow a test thread's stack even
        // in a debug build.
        let deepest = MAX_NESTING / 2 - 1;
        assert!(matches!(
            Btf::parse(&nested(deepest + 1).build()),
            Err(BtfError::ReferenceLoop { .. })
        ));
        let header = body(&nested(deepest));
        assert!(header.starts_with("struct deep {"));
    }

    #[test]
    fn output_is_whole_after_chunked_flushes() {
        // Enough types to cross the flush threshold several times.
        let mut b = BtfBuilder::new();
        let int = b.int("int", 4, true);
        for i in 0..40_000 {
            b.struct_(&format!("s{i}"), 4, &[("field_with_long_name", int, 0, 0)]);
        }
        let header = body(&b);
        assert_eq!(header.matches("struct s").count(), 40_000);
        assert!(header.ends_with("struct s39999 {\n\tint field_with_long_name;\n};\n\n"));
    }
}

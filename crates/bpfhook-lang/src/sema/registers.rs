//! `reg("name")`: where each register sits in the kernel's `struct pt_regs` (x86_64 layout),
//! and which register a uprobe finds each argument of a function in.

use bpfhook::btf::{Btf, TypeId, TypeKind};

/// Byte offset of a register in x86_64 `struct pt_regs`, by the names bpftrace accepts.
pub fn offset(name: &str) -> Option<i16> {
    let index = match name {
        "r15" => 0,
        "r14" => 1,
        "r13" => 2,
        "r12" => 3,
        "bp" | "rbp" => 4,
        "bx" | "rbx" => 5,
        "r11" => 6,
        "r10" => 7,
        "r9" => 8,
        "r8" => 9,
        "ax" | "rax" => 10,
        "cx" | "rcx" => 11,
        "dx" | "rdx" => 12,
        "si" | "rsi" => 13,
        "di" | "rdi" => 14,
        "orig_ax" | "orig_rax" => 15,
        "ip" | "rip" => 16,
        "cs" => 17,
        "flags" | "eflags" => 18,
        "sp" | "rsp" => 19,
        "ss" => 20,
        _ => return None,
    };
    Some(index * 8)
}

/// The registers holding the first six integer arguments (System V AMD64 ABI).
pub const ARGUMENTS: [&str; 6] = ["di", "si", "dx", "cx", "r8", "r9"];

/// The return value register.
pub const RETURN: &str = "ax";

/// How an argument of a C type reaches a function (System V AMD64), as far as a uprobe can
/// read it: in one integer register, or otherwise (why).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Passing {
    Register,
    Other(&'static str),
}

/// How an argument of BTF type `id` is passed.
pub fn passing(btf: &Btf, id: TypeId) -> Passing {
    match btf
        .resolve(id)
        .and_then(|id| btf.type_by_id(id))
        .map(|t| &t.kind)
    {
        Some(TypeKind::Int(int)) if int.size > 8 => {
            Passing::Other("a 128-bit integer (passed in two registers)")
        }
        Some(TypeKind::Float { .. }) => {
            Passing::Other("a floating-point value (passed in an SSE register)")
        }
        Some(TypeKind::Struct(_) | TypeKind::Union(_)) => Passing::Other(
            "a struct or union passed by value (in several registers or on the stack)",
        ),
        _ => Passing::Register,
    }
}

/// How many integer registers an argument that is not [`Passing::Register`] takes, when
/// known: 128-bit integers two, floats none, records over 16 bytes none (they go on the
/// stack), smaller records of integers one per eight bytes; None for small records holding
/// floating-point members (classified per eightbyte: not worked out here).
pub fn registers_taken(btf: &Btf, id: TypeId) -> Option<usize> {
    let id = btf.resolve(id)?;
    match &btf.type_by_id(id)?.kind {
        TypeKind::Int(_) => Some(2),
        TypeKind::Float { .. } => Some(0),
        TypeKind::Struct(c) | TypeKind::Union(c) if c.size > 16 => Some(0),
        TypeKind::Struct(_) | TypeKind::Union(_) if !holds_float(btf, id, 8) => {
            Some(btf.size_of(id)?.div_ceil(8) as usize)
        }
        _ => None,
    }
}

/// Whether a record (by value, to `depth` levels) has a floating-point member.
fn holds_float(btf: &Btf, id: TypeId, depth: u32) -> bool {
    let Some(kind) = btf
        .resolve(id)
        .and_then(|id| btf.type_by_id(id))
        .map(|t| &t.kind)
    else {
        return false;
    };
    match kind {
        TypeKind::Float { .. } => true,
        TypeKind::Array(array) => depth > 0 && holds_float(btf, array.elem, depth - 1),
        TypeKind::Struct(c) | TypeKind::Union(c) => {
            depth > 0
                && c.members
                    .iter()
                    .any(|m| holds_float(btf, m.type_id, depth - 1))
        }
        _ => false,
    }
}

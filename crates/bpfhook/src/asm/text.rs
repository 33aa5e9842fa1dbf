//! eBPF assembly text in the kernel verifier-log syntax (`kernel/bpf/disasm.c`):
//! `r1 = *(u64 *)(r10 -8)`, `if w1 > 0x3 goto pc+2`, `call bpf_map_lookup_elem#1`.
//!
//! The printer writes exactly what the parser reads, so `parse(print(x)) == x`
//! for every instruction and object. On top of the kernel's syntax the parser
//! takes labels (`out:` and `goto out`), comments (`;`, `#`, `//`), directives
//! describing an object (`.section`, `.func`, `.license`, `.map`, `.rodata`) and
//! symbolic references (`r1 = map NAME ll`, `r1 = rodata NAME ll`, `call NAME`).
//!
//! Where the kernel's syntax cannot say everything an instruction holds, the
//! printer extends it: `ld_imm64` prints its value with ` ll` (as llvm-objdump
//! does), raw map fds print as `map[fd:N]`, and other pseudo sources as
//! `btf[id:N]`, `subprog[pc+N]`, `map[idx:N]`.

mod lexer;
mod object;
mod parser;

use std::fmt::{self, Write as _};

use super::elf::{map_type_name, ObjectSpec};
use super::insn::*;
use super::{Helper, Program, RelocationTarget};

pub use object::parse_object;
pub use parser::parse_program;

impl fmt::Display for Reg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "r{}", self.number())
    }
}

impl fmt::Display for Insn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_insn(f, self)
    }
}

/// Prints instructions one per line, without symbolic references.
pub fn print_insns(insns: &[Insn]) -> String {
    let mut out = String::new();
    for insn in insns {
        let _ = writeln!(out, "{insn}");
    }
    out
}

/// Prints a program, one instruction per line, with relocated instructions in
/// their symbolic form (`r1 = map events ll`, `call subprog`).
pub fn print_program(program: &Program) -> String {
    let mut out = String::new();
    write_program(&mut out, program, "");
    out
}

/// Prints a whole object as directives plus indented program bodies.
pub fn print_object(object: &ObjectSpec) -> String {
    let mut out = String::new();
    let _ = writeln!(out, ".license {}", quote(object.license.as_bytes()));
    for map in &object.maps {
        let _ = write!(out, ".map {} type=", map.name);
        match map_type_name(map.map_type) {
            Some(name) => out.push_str(name),
            None => {
                let _ = write!(out, "{}", map.map_type);
            }
        }
        let _ = write!(
            out,
            " key={} value={} entries={}",
            map.key_size, map.value_size, map.max_entries
        );
        if map.flags != 0 {
            let _ = write!(out, " flags={:#x}", map.flags);
        }
        out.push('\n');
    }
    for data in &object.data {
        let _ = writeln!(out, ".rodata {} {}", data.name, quote(&data.bytes));
    }
    for program in &object.programs {
        let _ = writeln!(out, "\n.section {} {}", program.section, program.name);
        write_program(&mut out, &program.program, "    ");
    }
    for function in &object.functions {
        let _ = writeln!(out, "\n.func {}", function.name);
        write_program(&mut out, &function.program, "    ");
    }
    out
}

fn write_program(out: &mut String, program: &Program, indent: &str) {
    for (index, insn) in program.insns.iter().enumerate() {
        out.push_str(indent);
        match (program.relocation_at(index), insn) {
            (Some(RelocationTarget::Map(name)), Insn::LdImm64 { dst, .. }) => {
                let _ = write!(out, "{dst} = map {name} ll");
            }
            (
                Some(RelocationTarget::Data(name)),
                Insn::LdImm64 {
                    dst,
                    value: Imm64::Value(addend),
                },
            ) => {
                let _ = write!(out, "{dst} = rodata {name}");
                if *addend != 0 {
                    let _ = write!(out, "+{}", *addend as u32);
                }
                out.push_str(" ll");
            }
            (Some(RelocationTarget::Function(name)), Insn::Call(_)) => {
                let _ = write!(out, "call {name}");
            }
            _ => {
                let _ = write!(out, "{insn}");
            }
        }
        out.push('\n');
    }
}

/// A C-like string literal; bytes outside printable ASCII become `\xNN`.
pub(crate) fn quote(bytes: &[u8]) -> String {
    let mut out = String::from("\"");
    for &byte in bytes {
        match byte {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            0x20..=0x7e => out.push(char::from(byte)),
            _ => {
                let _ = write!(out, "\\x{byte:02x}");
            }
        }
    }
    out.push('"');
    out
}

/// `r` for 64-bit operations, `w` for 32-bit ones.
fn reg_name(reg: Reg, width: Width) -> String {
    match width {
        Width::W64 => format!("r{}", reg.number()),
        Width::W32 => format!("w{}", reg.number()),
    }
}

pub(crate) fn alu_symbol(op: AluOp) -> &'static str {
    match op {
        AluOp::Add => "+=",
        AluOp::Sub => "-=",
        AluOp::Mul => "*=",
        AluOp::Div => "/=",
        AluOp::SDiv => "s/=",
        AluOp::Or => "|=",
        AluOp::And => "&=",
        AluOp::Lsh => "<<=",
        AluOp::Rsh => ">>=",
        AluOp::Mod => "%=",
        AluOp::SMod => "s%=",
        AluOp::Xor => "^=",
        AluOp::Mov => "=",
        AluOp::Arsh => "s>>=",
    }
}

pub(crate) fn jmp_symbol(op: JmpOp) -> &'static str {
    match op {
        JmpOp::Jeq => "==",
        JmpOp::Jgt => ">",
        JmpOp::Jge => ">=",
        JmpOp::Jset => "&",
        JmpOp::Jne => "!=",
        JmpOp::Jsgt => "s>",
        JmpOp::Jsge => "s>=",
        JmpOp::Jlt => "<",
        JmpOp::Jle => "<=",
        JmpOp::Jslt => "s<",
        JmpOp::Jsle => "s<=",
    }
}

pub(crate) fn size_name(size: Size) -> &'static str {
    match size {
        Size::B => "u8",
        Size::H => "u16",
        Size::W => "u32",
        Size::DW => "u64",
    }
}

pub(crate) fn signed_size_name(size: Size) -> &'static str {
    match size {
        Size::B => "s8",
        Size::H => "s16",
        Size::W => "s32",
        Size::DW => "s64",
    }
}

/// The `name` in `atomic64_fetch_name(...)`, for fetching operations.
pub(crate) fn atomic_fetch_name(op: AtomicOp) -> Option<&'static str> {
    match op {
        AtomicOp::FetchAdd => Some("fetch_add"),
        AtomicOp::FetchOr => Some("fetch_or"),
        AtomicOp::FetchAnd => Some("fetch_and"),
        AtomicOp::FetchXor => Some("fetch_xor"),
        AtomicOp::Xchg => Some("xchg"),
        AtomicOp::CmpXchg => Some("cmpxchg"),
        AtomicOp::Add | AtomicOp::Or | AtomicOp::And | AtomicOp::Xor => None,
    }
}

/// `(r10 -8)`: the kernel prints the offset with an explicit sign.
fn address(reg: Reg, off: i16) -> String {
    format!("({reg} {off:+})")
}

fn write_insn(f: &mut fmt::Formatter<'_>, insn: &Insn) -> fmt::Result {
    match *insn {
        Insn::Alu {
            width,
            op,
            dst,
            src,
        } => {
            let dst = reg_name(dst, width);
            let symbol = alu_symbol(op);
            match src {
                Source::Reg(src) => write!(f, "{dst} {symbol} {}", reg_name(src, width)),
                Source::Imm(imm) => write!(f, "{dst} {symbol} {imm}"),
            }
        }
        Insn::Neg { width, dst } => {
            let dst = reg_name(dst, width);
            write!(f, "{dst} = -{dst}")
        }
        Insn::MovSx {
            width,
            dst,
            src,
            from,
        } => write!(
            f,
            "{} = (s{}){}",
            reg_name(dst, width),
            from.bits(),
            reg_name(src, width)
        ),
        Insn::Endian { order, bits, dst } => {
            let name = match order {
                ByteOrder::Le => "le",
                ByteOrder::Be => "be",
                ByteOrder::Swap => "bswap",
            };
            write!(f, "{dst} = {name}{} {dst}", bits.bits())
        }
        Insn::Ja { off } => write!(f, "goto pc{off:+}"),
        Insn::Gotol { imm } => write!(f, "gotol pc{imm:+}"),
        Insn::Jmp {
            width,
            op,
            dst,
            src,
            off,
        } => {
            let symbol = jmp_symbol(op);
            let dst = reg_name(dst, width);
            match src {
                Source::Reg(src) => write!(
                    f,
                    "if {dst} {symbol} {} goto pc{off:+}",
                    reg_name(src, width)
                ),
                Source::Imm(imm) => {
                    write!(f, "if {dst} {symbol} {:#x} goto pc{off:+}", imm as u32)
                }
            }
        }
        Insn::Call(Call::Helper(id)) => match Helper::from_id(id) {
            Some(helper) => write!(f, "call {}#{id}", helper.kernel_name()),
            None => write!(f, "call unknown#{id}"),
        },
        Insn::Call(Call::Local(imm)) => write!(f, "call pc{imm:+}"),
        Insn::Call(Call::Kfunc { btf_id, module }) => {
            write!(f, "call kernel-function#{btf_id}")?;
            if module != 0 {
                write!(f, "@{module}")?;
            }
            Ok(())
        }
        Insn::Exit => write!(f, "exit"),
        Insn::Load {
            size,
            dst,
            src,
            off,
        } => write!(f, "{dst} = *({} *){}", size_name(size), address(src, off)),
        Insn::LoadSx {
            size,
            dst,
            src,
            off,
        } => write!(
            f,
            "{dst} = *({} *){}",
            signed_size_name(size),
            address(src, off)
        ),
        Insn::Store {
            size,
            dst,
            src,
            off,
        } => write!(f, "*({} *){} = {src}", size_name(size), address(dst, off)),
        Insn::StoreImm {
            size,
            dst,
            off,
            imm,
        } => write!(f, "*({} *){} = {imm}", size_name(size), address(dst, off)),
        Insn::Atomic {
            size,
            op,
            dst,
            src,
            off,
        } => write_atomic(f, size, op, dst, src, off),
        Insn::LdImm64 { dst, value } => write_ld_imm64(f, dst, value),
        Insn::LdAbs { size, imm } => write!(f, "r0 = *({} *)skb[{imm}]", size_name(size)),
        Insn::LdInd { size, src, imm } => {
            write!(f, "r0 = *({} *)skb[{src} + {imm}]", size_name(size))
        }
    }
}

fn write_atomic(
    f: &mut fmt::Formatter<'_>,
    size: Size,
    op: AtomicOp,
    dst: Reg,
    src: Reg,
    off: i16,
) -> fmt::Result {
    // The kernel names registers `rN` here whatever the width; the size is
    // carried by the pointer type and the `atomic64` prefix.
    let bits = if size == Size::DW { "64" } else { "" };
    let place = format!("({} *){}", size_name(size), address(dst, off));
    match atomic_fetch_name(op) {
        None => {
            let symbol = match op {
                AtomicOp::Or => "|=",
                AtomicOp::And => "&=",
                AtomicOp::Xor => "^=",
                _ => "+=",
            };
            write!(f, "lock *{place} {symbol} {src}")
        }
        Some(name) if op == AtomicOp::CmpXchg => {
            write!(f, "r0 = atomic{bits}_{name}({place}, r0, {src})")
        }
        Some(name) => write!(f, "{src} = atomic{bits}_{name}({place}, {src})"),
    }
}

fn write_ld_imm64(f: &mut fmt::Formatter<'_>, dst: Reg, value: Imm64) -> fmt::Result {
    match value {
        Imm64::Value(value) => write!(f, "{dst} = {value:#x} ll"),
        Imm64::MapFd(fd) => write!(f, "{dst} = map[fd:{fd}]"),
        Imm64::MapValue { fd, offset } => write!(f, "{dst} = map[fd:{fd}][0]+{offset}"),
        Imm64::BtfId { id, btf_fd: 0 } => write!(f, "{dst} = btf[id:{id}]"),
        Imm64::BtfId { id, btf_fd } => write!(f, "{dst} = btf[id:{id}][fd:{btf_fd}]"),
        Imm64::Func(imm) => write!(f, "{dst} = subprog[pc{imm:+}]"),
        Imm64::MapIdx(index) => write!(f, "{dst} = map[idx:{index}]"),
        Imm64::MapIdxValue { index, offset } => {
            write!(f, "{dst} = map[idx:{index}][0]+{offset}")
        }
    }
}

//! The eBPF instruction set as Rust values, with byte encoding and strict
//! decoding (see the kernel's `Documentation/bpf/standardization/instruction-set.rst`).
//!
//! Two layers: [`RawInsn`] is exactly the kernel's 8-byte `struct bpf_insn`;
//! [`Insn`] is the typed instruction, one variant per kind, which can only be
//! built from raw bytes the kernel would accept. Because decoding rejects every
//! reserved field that is not zero, `encode(decode(bytes)) == bytes` holds.

use super::AsmError;

/// Size in bytes of one instruction slot (`struct bpf_insn`).
pub const INSN_SIZE: usize = 8;

// Instruction classes: the low three bits of the opcode.
const CLASS_LD: u8 = 0x00;
const CLASS_LDX: u8 = 0x01;
const CLASS_ST: u8 = 0x02;
const CLASS_STX: u8 = 0x03;
const CLASS_ALU: u8 = 0x04;
const CLASS_JMP: u8 = 0x05;
const CLASS_JMP32: u8 = 0x06;
const CLASS_ALU64: u8 = 0x07;

// Source bit of arithmetic and jump opcodes.
const SRC_K: u8 = 0x00;
const SRC_X: u8 = 0x08;

// Arithmetic operations that are not plain binary operators.
const ALU_NEG: u8 = 0x80;
const ALU_END: u8 = 0xd0;

// Jump operations that are not conditional jumps.
const JMP_JA: u8 = 0x00;
const JMP_CALL: u8 = 0x80;
const JMP_EXIT: u8 = 0x90;

// Memory modes: the top three bits of load and store opcodes.
const MODE_IMM: u8 = 0x00;
const MODE_ABS: u8 = 0x20;
const MODE_IND: u8 = 0x40;
const MODE_MEM: u8 = 0x60;
const MODE_MEMSX: u8 = 0x80;
const MODE_ATOMIC: u8 = 0xc0;

// Atomic operations live in `imm`; FETCH asks for the old value back.
const ATOMIC_FETCH: i32 = 0x01;
const ATOMIC_XCHG: i32 = 0xe0 | ATOMIC_FETCH;
const ATOMIC_CMPXCHG: i32 = 0xf0 | ATOMIC_FETCH;

// `src_reg` values of a `call`.
const CALL_HELPER: u8 = 0;
const CALL_LOCAL: u8 = 1;
const CALL_KFUNC: u8 = 2;

/// The kernel's `struct bpf_insn`: one 8-byte instruction slot, unchecked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RawInsn {
    pub code: u8,
    pub dst: u8,
    pub src: u8,
    pub off: i16,
    pub imm: i32,
}

impl RawInsn {
    /// Little-endian bytes, registers packed as `dst:4 | src:4 << 4`.
    pub fn to_bytes(self) -> [u8; INSN_SIZE] {
        let off = self.off.to_le_bytes();
        let imm = self.imm.to_le_bytes();
        [
            self.code,
            (self.dst & 0x0f) | (self.src << 4),
            off[0],
            off[1],
            imm[0],
            imm[1],
            imm[2],
            imm[3],
        ]
    }

    /// Splits 8 bytes into fields, without judging them.
    pub fn from_bytes(bytes: [u8; INSN_SIZE]) -> RawInsn {
        RawInsn {
            code: bytes[0],
            dst: bytes[1] & 0x0f,
            src: bytes[1] >> 4,
            off: i16::from_le_bytes([bytes[2], bytes[3]]),
            imm: i32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
        }
    }
}

/// A register, `r0` to `r10` (`r10` is the read-only frame pointer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reg(u8);

pub const R0: Reg = Reg(0);
pub const R1: Reg = Reg(1);
pub const R2: Reg = Reg(2);
pub const R3: Reg = Reg(3);
pub const R4: Reg = Reg(4);
pub const R5: Reg = Reg(5);
pub const R6: Reg = Reg(6);
pub const R7: Reg = Reg(7);
pub const R8: Reg = Reg(8);
pub const R9: Reg = Reg(9);
pub const R10: Reg = Reg(10);

impl Reg {
    /// The register with this number, if it exists.
    pub fn new(number: u8) -> Option<Reg> {
        (number <= 10).then_some(Reg(number))
    }

    pub fn number(self) -> u8 {
        self.0
    }
}

/// Operand width: `ALU`/`JMP32` work on the low 32 bits, `ALU64`/`JMP` on all 64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Width {
    W32,
    W64,
}

/// The second operand of arithmetic and conditional jumps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    Reg(Reg),
    Imm(i32),
}

/// Binary arithmetic operations. `SDiv`/`SMod` are the signed forms (`off = 1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AluOp {
    Add,
    Sub,
    Mul,
    Div,
    SDiv,
    Or,
    And,
    Lsh,
    Rsh,
    Mod,
    SMod,
    Xor,
    Mov,
    Arsh,
}

impl AluOp {
    pub const ALL: [AluOp; 14] = [
        AluOp::Add,
        AluOp::Sub,
        AluOp::Mul,
        AluOp::Div,
        AluOp::SDiv,
        AluOp::Or,
        AluOp::And,
        AluOp::Lsh,
        AluOp::Rsh,
        AluOp::Mod,
        AluOp::SMod,
        AluOp::Xor,
        AluOp::Mov,
        AluOp::Arsh,
    ];

    /// The opcode's operation bits and the `off` that selects signedness.
    fn code_and_off(self) -> (u8, i16) {
        match self {
            AluOp::Add => (0x00, 0),
            AluOp::Sub => (0x10, 0),
            AluOp::Mul => (0x20, 0),
            AluOp::Div => (0x30, 0),
            AluOp::SDiv => (0x30, 1),
            AluOp::Or => (0x40, 0),
            AluOp::And => (0x50, 0),
            AluOp::Lsh => (0x60, 0),
            AluOp::Rsh => (0x70, 0),
            AluOp::Mod => (0x90, 0),
            AluOp::SMod => (0x90, 1),
            AluOp::Xor => (0xa0, 0),
            AluOp::Mov => (0xb0, 0),
            AluOp::Arsh => (0xc0, 0),
        }
    }

    fn from_code_and_off(op: u8, off: i16) -> Option<AluOp> {
        AluOp::ALL
            .into_iter()
            .find(|candidate| candidate.code_and_off() == (op, off))
    }
}

/// Conditional jump comparisons; the `S` forms compare as signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JmpOp {
    Jeq,
    Jgt,
    Jge,
    Jset,
    Jne,
    Jsgt,
    Jsge,
    Jlt,
    Jle,
    Jslt,
    Jsle,
}

impl JmpOp {
    pub const ALL: [JmpOp; 11] = [
        JmpOp::Jeq,
        JmpOp::Jgt,
        JmpOp::Jge,
        JmpOp::Jset,
        JmpOp::Jne,
        JmpOp::Jsgt,
        JmpOp::Jsge,
        JmpOp::Jlt,
        JmpOp::Jle,
        JmpOp::Jslt,
        JmpOp::Jsle,
    ];

    /// The condition that holds exactly when this one does not (`jset` has none).
    pub fn negated(self) -> Option<JmpOp> {
        Some(match self {
            JmpOp::Jeq => JmpOp::Jne,
            JmpOp::Jne => JmpOp::Jeq,
            JmpOp::Jgt => JmpOp::Jle,
            JmpOp::Jle => JmpOp::Jgt,
            JmpOp::Jge => JmpOp::Jlt,
            JmpOp::Jlt => JmpOp::Jge,
            JmpOp::Jsgt => JmpOp::Jsle,
            JmpOp::Jsle => JmpOp::Jsgt,
            JmpOp::Jsge => JmpOp::Jslt,
            JmpOp::Jslt => JmpOp::Jsge,
            JmpOp::Jset => return None,
        })
    }

    fn code(self) -> u8 {
        match self {
            JmpOp::Jeq => 0x10,
            JmpOp::Jgt => 0x20,
            JmpOp::Jge => 0x30,
            JmpOp::Jset => 0x40,
            JmpOp::Jne => 0x50,
            JmpOp::Jsgt => 0x60,
            JmpOp::Jsge => 0x70,
            JmpOp::Jlt => 0xa0,
            JmpOp::Jle => 0xb0,
            JmpOp::Jslt => 0xc0,
            JmpOp::Jsle => 0xd0,
        }
    }

    fn from_code(op: u8) -> Option<JmpOp> {
        JmpOp::ALL
            .into_iter()
            .find(|candidate| candidate.code() == op)
    }
}

/// Memory access size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Size {
    B,
    H,
    W,
    DW,
}

impl Size {
    pub const ALL: [Size; 4] = [Size::B, Size::H, Size::W, Size::DW];

    pub fn bytes(self) -> usize {
        match self {
            Size::B => 1,
            Size::H => 2,
            Size::W => 4,
            Size::DW => 8,
        }
    }

    fn code(self) -> u8 {
        match self {
            Size::W => 0x00,
            Size::H => 0x08,
            Size::B => 0x10,
            Size::DW => 0x18,
        }
    }

    fn from_code(code: u8) -> Size {
        match code & 0x18 {
            0x00 => Size::W,
            0x08 => Size::H,
            0x10 => Size::B,
            _ => Size::DW,
        }
    }
}

/// How `MovSx` sign-extends: from the low 8, 16 or 32 bits of the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExtendFrom {
    B8,
    B16,
    B32,
}

impl ExtendFrom {
    pub fn bits(self) -> u8 {
        match self {
            ExtendFrom::B8 => 8,
            ExtendFrom::B16 => 16,
            ExtendFrom::B32 => 32,
        }
    }
}

/// Byte-order conversions: `Le`/`Be` convert host order to that order
/// (`ALU` class), `Swap` reverses unconditionally (`ALU64` class, v4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ByteOrder {
    Le,
    Be,
    Swap,
}

/// Width of a byte-order conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SwapBits {
    B16,
    B32,
    B64,
}

impl SwapBits {
    pub fn bits(self) -> i32 {
        match self {
            SwapBits::B16 => 16,
            SwapBits::B32 => 32,
            SwapBits::B64 => 64,
        }
    }

    fn from_bits(bits: i32) -> Option<SwapBits> {
        match bits {
            16 => Some(SwapBits::B16),
            32 => Some(SwapBits::B32),
            64 => Some(SwapBits::B64),
            _ => None,
        }
    }
}

/// Atomic read-modify-write operations (`STX | ATOMIC`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AtomicOp {
    Add,
    Or,
    And,
    Xor,
    FetchAdd,
    FetchOr,
    FetchAnd,
    FetchXor,
    Xchg,
    CmpXchg,
}

impl AtomicOp {
    pub const ALL: [AtomicOp; 10] = [
        AtomicOp::Add,
        AtomicOp::Or,
        AtomicOp::And,
        AtomicOp::Xor,
        AtomicOp::FetchAdd,
        AtomicOp::FetchOr,
        AtomicOp::FetchAnd,
        AtomicOp::FetchXor,
        AtomicOp::Xchg,
        AtomicOp::CmpXchg,
    ];

    fn imm(self) -> i32 {
        match self {
            AtomicOp::Add => 0x00,
            AtomicOp::Or => 0x40,
            AtomicOp::And => 0x50,
            AtomicOp::Xor => 0xa0,
            AtomicOp::FetchAdd => ATOMIC_FETCH,
            AtomicOp::FetchOr => 0x40 | ATOMIC_FETCH,
            AtomicOp::FetchAnd => 0x50 | ATOMIC_FETCH,
            AtomicOp::FetchXor => 0xa0 | ATOMIC_FETCH,
            AtomicOp::Xchg => ATOMIC_XCHG,
            AtomicOp::CmpXchg => ATOMIC_CMPXCHG,
        }
    }

    fn from_imm(imm: i32) -> Option<AtomicOp> {
        AtomicOp::ALL.into_iter().find(|op| op.imm() == imm)
    }
}

/// What a `call` calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Call {
    /// A kernel helper by id (`src_reg = 0`); see [`super::Helper`].
    Helper(i32),
    /// A bpf-to-bpf call, `imm` instructions after the next one (`src_reg = 1`).
    Local(i32),
    /// A kernel function by BTF id (`src_reg = 2`); `module` is the `off` field,
    /// the index of the module's BTF fd in `fd_array` (0 for vmlinux).
    Kfunc { btf_id: i32, module: i16 },
}

/// The 64-bit operand of `ld_imm64`, one variant per pseudo source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Imm64 {
    /// `src_reg = 0`: a plain constant.
    Value(u64),
    /// `src_reg = 1`: the map with this fd.
    MapFd(i32),
    /// `src_reg = 2`: the address `offset` bytes into the value of the map with this fd.
    MapValue { fd: i32, offset: i32 },
    /// `src_reg = 3`: the address of a kernel variable; `btf_fd` 0 means vmlinux.
    BtfId { id: i32, btf_fd: i32 },
    /// `src_reg = 4`: the address of the subprogram `imm` instructions after the next one.
    Func(i32),
    /// `src_reg = 5`: the map at this index of `fd_array`.
    MapIdx(i32),
    /// `src_reg = 6`: like `MapValue`, the map given by `fd_array` index.
    MapIdxValue { index: i32, offset: i32 },
}

impl Imm64 {
    fn src_and_halves(self) -> (u8, i32, i32) {
        match self {
            // Truncation is the point: the constant is split into two 32-bit halves.
            Imm64::Value(value) => (0, value as u32 as i32, (value >> 32) as u32 as i32),
            Imm64::MapFd(fd) => (1, fd, 0),
            Imm64::MapValue { fd, offset } => (2, fd, offset),
            Imm64::BtfId { id, btf_fd } => (3, id, btf_fd),
            Imm64::Func(offset) => (4, offset, 0),
            Imm64::MapIdx(index) => (5, index, 0),
            Imm64::MapIdxValue { index, offset } => (6, index, offset),
        }
    }

    fn from_src_and_halves(src: u8, low: i32, high: i32) -> Result<Imm64, &'static str> {
        let high_must_be_zero = |value| {
            if high == 0 {
                Ok(value)
            } else {
                Err("second half of ld_imm64 must be 0 for this pseudo source")
            }
        };
        match src {
            0 => Ok(Imm64::Value(
                (u64::from(high as u32) << 32) | u64::from(low as u32),
            )),
            1 => high_must_be_zero(Imm64::MapFd(low)),
            2 => Ok(Imm64::MapValue {
                fd: low,
                offset: high,
            }),
            3 => Ok(Imm64::BtfId {
                id: low,
                btf_fd: high,
            }),
            4 => high_must_be_zero(Imm64::Func(low)),
            5 => high_must_be_zero(Imm64::MapIdx(low)),
            6 => Ok(Imm64::MapIdxValue {
                index: low,
                offset: high,
            }),
            _ => Err("unknown ld_imm64 pseudo source"),
        }
    }
}

/// One eBPF instruction. Every variant encodes to bytes the kernel's decoder
/// accepts, as long as [`Insn::check`] passes (the few size combinations the
/// types cannot rule out are listed there).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Insn {
    /// `dst op= src`.
    Alu {
        width: Width,
        op: AluOp,
        dst: Reg,
        src: Source,
    },
    /// `dst = -dst`.
    Neg {
        width: Width,
        dst: Reg,
    },
    /// `dst = (sN)src`: move with sign extension (v4).
    MovSx {
        width: Width,
        dst: Reg,
        src: Reg,
        from: ExtendFrom,
    },
    /// `dst = le16 dst`, `be32`, `bswap64`, ...
    Endian {
        order: ByteOrder,
        bits: SwapBits,
        dst: Reg,
    },
    /// `goto pc+off`.
    Ja {
        off: i16,
    },
    /// `gotol pc+imm`: the long jump of the `JMP32` class (v4).
    Gotol {
        imm: i32,
    },
    /// `if dst op src goto pc+off`.
    Jmp {
        width: Width,
        op: JmpOp,
        dst: Reg,
        src: Source,
        off: i16,
    },
    Call(Call),
    Exit,
    /// `dst = *(size *)(src + off)`.
    Load {
        size: Size,
        dst: Reg,
        src: Reg,
        off: i16,
    },
    /// `dst = *(sN *)(src + off)`: sign-extending load, B/H/W only (v4).
    LoadSx {
        size: Size,
        dst: Reg,
        src: Reg,
        off: i16,
    },
    /// `*(size *)(dst + off) = src`.
    Store {
        size: Size,
        dst: Reg,
        src: Reg,
        off: i16,
    },
    /// `*(size *)(dst + off) = imm`.
    StoreImm {
        size: Size,
        dst: Reg,
        off: i16,
        imm: i32,
    },
    /// Atomic operation on `*(size *)(dst + off)` with `src`, W/DW only.
    Atomic {
        size: Size,
        op: AtomicOp,
        dst: Reg,
        src: Reg,
        off: i16,
    },
    /// `dst = imm64`, two slots long.
    LdImm64 {
        dst: Reg,
        value: Imm64,
    },
    /// Legacy socket-filter load `r0 = *(size *)skb[imm]`, B/H/W only.
    LdAbs {
        size: Size,
        imm: i32,
    },
    /// Legacy socket-filter load `r0 = *(size *)skb[src + imm]`, B/H/W only.
    LdInd {
        size: Size,
        src: Reg,
        imm: i32,
    },
}

impl Insn {
    /// Number of 8-byte slots: 2 for `ld_imm64`, 1 otherwise.
    pub fn slots(&self) -> usize {
        match self {
            Insn::LdImm64 { .. } => 2,
            _ => 1,
        }
    }

    /// Encoded length in bytes.
    pub fn size(&self) -> usize {
        self.slots() * INSN_SIZE
    }

    /// Rejects the size combinations that the enum cannot rule out by type.
    pub fn check(&self) -> Result<(), &'static str> {
        match *self {
            Insn::MovSx {
                width: Width::W32,
                from: ExtendFrom::B32,
                ..
            } => Err("32-bit movsx can only extend from 8 or 16 bits"),
            Insn::LoadSx { size: Size::DW, .. } => Err("sign-extending loads are B, H or W"),
            Insn::Atomic {
                size: Size::B | Size::H,
                ..
            } => Err("atomic operations are W or DW"),
            Insn::LdAbs { size: Size::DW, .. } | Insn::LdInd { size: Size::DW, .. } => {
                Err("legacy packet loads are B, H or W")
            }
            _ => Ok(()),
        }
    }

    /// The instruction as one or two kernel `struct bpf_insn` slots.
    pub fn to_raw(&self) -> (RawInsn, Option<RawInsn>) {
        let raw = |code, dst: Reg, src: u8, off, imm| RawInsn {
            code,
            dst: dst.0,
            src,
            off,
            imm,
        };
        let single = match *self {
            Insn::Alu {
                width,
                op,
                dst,
                src,
            } => {
                let (op_code, off) = op.code_and_off();
                let (source, src_reg, imm) = split_source(src);
                raw(alu_class(width) | op_code | source, dst, src_reg, off, imm)
            }
            Insn::Neg { width, dst } => raw(alu_class(width) | ALU_NEG, dst, 0, 0, 0),
            Insn::MovSx {
                width,
                dst,
                src,
                from,
            } => raw(
                alu_class(width) | 0xb0 | SRC_X,
                dst,
                src.0,
                i16::from(from.bits()),
                0,
            ),
            Insn::Endian { order, bits, dst } => {
                let code = match order {
                    ByteOrder::Le => CLASS_ALU | ALU_END | SRC_K,
                    ByteOrder::Be => CLASS_ALU | ALU_END | SRC_X,
                    ByteOrder::Swap => CLASS_ALU64 | ALU_END | SRC_K,
                };
                raw(code, dst, 0, 0, bits.bits())
            }
            Insn::Ja { off } => raw(CLASS_JMP | JMP_JA, R0, 0, off, 0),
            Insn::Gotol { imm } => raw(CLASS_JMP32 | JMP_JA, R0, 0, 0, imm),
            Insn::Jmp {
                width,
                op,
                dst,
                src,
                off,
            } => {
                let class = match width {
                    Width::W32 => CLASS_JMP32,
                    Width::W64 => CLASS_JMP,
                };
                let (source, src_reg, imm) = split_source(src);
                raw(class | op.code() | source, dst, src_reg, off, imm)
            }
            Insn::Call(call) => {
                let (src, off, imm) = match call {
                    Call::Helper(id) => (CALL_HELPER, 0, id),
                    Call::Local(imm) => (CALL_LOCAL, 0, imm),
                    Call::Kfunc { btf_id, module } => (CALL_KFUNC, module, btf_id),
                };
                raw(CLASS_JMP | JMP_CALL, R0, src, off, imm)
            }
            Insn::Exit => raw(CLASS_JMP | JMP_EXIT, R0, 0, 0, 0),
            Insn::Load {
                size,
                dst,
                src,
                off,
            } => raw(CLASS_LDX | MODE_MEM | size.code(), dst, src.0, off, 0),
            Insn::LoadSx {
                size,
                dst,
                src,
                off,
            } => raw(CLASS_LDX | MODE_MEMSX | size.code(), dst, src.0, off, 0),
            Insn::Store {
                size,
                dst,
                src,
                off,
            } => raw(CLASS_STX | MODE_MEM | size.code(), dst, src.0, off, 0),
            Insn::StoreImm {
                size,
                dst,
                off,
                imm,
            } => raw(CLASS_ST | MODE_MEM | size.code(), dst, 0, off, imm),
            Insn::Atomic {
                size,
                op,
                dst,
                src,
                off,
            } => raw(
                CLASS_STX | MODE_ATOMIC | size.code(),
                dst,
                src.0,
                off,
                op.imm(),
            ),
            Insn::LdImm64 { dst, value } => {
                let (src, low, high) = value.src_and_halves();
                let first = raw(CLASS_LD | MODE_IMM | Size::DW.code(), dst, src, 0, low);
                let second = RawInsn {
                    imm: high,
                    ..RawInsn::default()
                };
                return (first, Some(second));
            }
            Insn::LdAbs { size, imm } => raw(CLASS_LD | MODE_ABS | size.code(), R0, 0, 0, imm),
            Insn::LdInd { size, src, imm } => {
                raw(CLASS_LD | MODE_IND | size.code(), R0, src.0, 0, imm)
            }
        };
        (single, None)
    }

    /// Appends the instruction's 8 or 16 bytes to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let (first, second) = self.to_raw();
        out.extend_from_slice(&first.to_bytes());
        if let Some(second) = second {
            out.extend_from_slice(&second.to_bytes());
        }
    }

    /// The instruction's 8 bytes, or 16 for `ld_imm64`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.size());
        self.encode_into(&mut out);
        out
    }

    /// Decodes the instruction at the start of `bytes`, returning it and the
    /// number of bytes it used. Anything the kernel would reject as malformed
    /// (unknown opcode, non-zero reserved field, register above r10) is an error.
    pub fn decode(bytes: &[u8]) -> Result<(Insn, usize), AsmError> {
        decode_at(bytes, 0)
    }
}

/// Encodes a whole instruction stream.
pub fn encode_program(insns: &[Insn]) -> Vec<u8> {
    let mut out = Vec::with_capacity(insns.iter().map(Insn::size).sum());
    for insn in insns {
        insn.encode_into(&mut out);
    }
    out
}

/// Decodes a whole instruction stream; its length must be a multiple of 8.
pub fn decode_program(bytes: &[u8]) -> Result<Vec<Insn>, AsmError> {
    let mut insns = Vec::with_capacity(bytes.len() / INSN_SIZE);
    let mut offset = 0;
    while offset < bytes.len() {
        let (insn, used) = decode_at(&bytes[offset..], offset)?;
        insns.push(insn);
        offset += used;
    }
    Ok(insns)
}

fn alu_class(width: Width) -> u8 {
    match width {
        Width::W32 => CLASS_ALU,
        Width::W64 => CLASS_ALU64,
    }
}

/// Source bit, `src_reg` and `imm` for an operand.
fn split_source(src: Source) -> (u8, u8, i32) {
    match src {
        Source::Reg(reg) => (SRC_X, reg.0, 0),
        Source::Imm(imm) => (SRC_K, 0, imm),
    }
}

fn read_slot(bytes: &[u8], slot: usize, base: usize) -> Result<RawInsn, AsmError> {
    let start = slot * INSN_SIZE;
    let chunk = bytes
        .get(start..start + INSN_SIZE)
        .and_then(|chunk| <[u8; INSN_SIZE]>::try_from(chunk).ok())
        .ok_or(AsmError::Truncated {
            offset: base,
            needed: start + INSN_SIZE,
            available: bytes.len(),
        })?;
    Ok(RawInsn::from_bytes(chunk))
}

/// Decodes one instruction; `base` is its byte offset, used only in errors.
fn decode_at(bytes: &[u8], base: usize) -> Result<(Insn, usize), AsmError> {
    let first = read_slot(bytes, 0, base)?;
    let invalid = |reason| AsmError::InvalidInstruction {
        offset: base,
        opcode: first.code,
        reason,
    };
    if first.code == CLASS_LD | MODE_IMM | Size::DW.code() {
        let second = read_slot(bytes, 1, base)?;
        if second.code != 0 || second.dst != 0 || second.src != 0 || second.off != 0 {
            return Err(invalid("second slot of ld_imm64 must only carry imm"));
        }
        if first.off != 0 {
            return Err(invalid("ld_imm64 uses reserved field off"));
        }
        let dst = reg(first.dst).map_err(invalid)?;
        let value =
            Imm64::from_src_and_halves(first.src, first.imm, second.imm).map_err(invalid)?;
        return Ok((Insn::LdImm64 { dst, value }, 2 * INSN_SIZE));
    }
    let insn = decode_single(first).map_err(invalid)?;
    Ok((insn, INSN_SIZE))
}

fn reg(number: u8) -> Result<Reg, &'static str> {
    Reg::new(number).ok_or("register number above r10")
}

/// Returns `Ok(())` when `condition` holds, else the reserved-field error.
fn require(condition: bool, reason: &'static str) -> Result<(), &'static str> {
    if condition {
        Ok(())
    } else {
        Err(reason)
    }
}

fn decode_single(raw: RawInsn) -> Result<Insn, &'static str> {
    let class = raw.code & 0x07;
    match class {
        CLASS_ALU | CLASS_ALU64 => decode_alu(raw),
        CLASS_JMP | CLASS_JMP32 => decode_jmp(raw),
        CLASS_LDX | CLASS_ST | CLASS_STX => decode_memory(raw),
        _ => decode_legacy_load(raw),
    }
}

fn decode_source(raw: RawInsn) -> Result<Source, &'static str> {
    if raw.code & SRC_X != 0 {
        require(
            raw.imm == 0,
            "register-source instruction uses reserved field imm",
        )?;
        Ok(Source::Reg(reg(raw.src)?))
    } else {
        require(
            raw.src == 0,
            "immediate-source instruction uses reserved field src_reg",
        )?;
        Ok(Source::Imm(raw.imm))
    }
}

fn decode_alu(raw: RawInsn) -> Result<Insn, &'static str> {
    let width = if raw.code & 0x07 == CLASS_ALU64 {
        Width::W64
    } else {
        Width::W32
    };
    let dst = reg(raw.dst)?;
    let op = raw.code & 0xf0;
    match op {
        ALU_END => {
            require(
                raw.src == 0 && raw.off == 0,
                "byte swap uses reserved fields",
            )?;
            let bits =
                SwapBits::from_bits(raw.imm).ok_or("byte swap width must be 16, 32 or 64")?;
            let order = match (width, raw.code & SRC_X) {
                (Width::W32, SRC_K) => ByteOrder::Le,
                (Width::W32, _) => ByteOrder::Be,
                (Width::W64, SRC_K) => ByteOrder::Swap,
                (Width::W64, _) => return Err("64-bit byte swap has no source bit"),
            };
            Ok(Insn::Endian { order, bits, dst })
        }
        ALU_NEG => {
            require(
                raw.code & SRC_X == 0 && raw.src == 0 && raw.off == 0 && raw.imm == 0,
                "neg uses reserved fields",
            )?;
            Ok(Insn::Neg { width, dst })
        }
        0xb0 if raw.code & SRC_X != 0 && raw.off != 0 => {
            require(raw.imm == 0, "movsx uses reserved field imm")?;
            let from = match (raw.off, width) {
                (8, _) => ExtendFrom::B8,
                (16, _) => ExtendFrom::B16,
                (32, Width::W64) => ExtendFrom::B32,
                _ => return Err("movsx offset must be 8, 16 or (64-bit only) 32"),
            };
            let src = reg(raw.src)?;
            Ok(Insn::MovSx {
                width,
                dst,
                src,
                from,
            })
        }
        _ => {
            let op = AluOp::from_code_and_off(op, raw.off)
                .ok_or("unknown arithmetic operation or reserved field off in use")?;
            let src = decode_source(raw)?;
            Ok(Insn::Alu {
                width,
                op,
                dst,
                src,
            })
        }
    }
}

fn decode_jmp(raw: RawInsn) -> Result<Insn, &'static str> {
    let is_jmp32 = raw.code & 0x07 == CLASS_JMP32;
    let op = raw.code & 0xf0;
    let all_regs_zero = raw.dst == 0 && raw.src == 0;
    match op {
        JMP_JA => {
            require(
                raw.code & SRC_X == 0 && all_regs_zero,
                "goto uses reserved fields",
            )?;
            if is_jmp32 {
                require(raw.off == 0, "gotol uses reserved field off")?;
                Ok(Insn::Gotol { imm: raw.imm })
            } else {
                require(raw.imm == 0, "goto uses reserved field imm")?;
                Ok(Insn::Ja { off: raw.off })
            }
        }
        JMP_CALL => {
            require(
                !is_jmp32 && raw.code & SRC_X == 0,
                "call exists only as JMP|K",
            )?;
            require(raw.dst == 0, "call uses reserved field dst_reg")?;
            let call = match raw.src {
                CALL_HELPER | CALL_LOCAL => {
                    require(raw.off == 0, "call uses reserved field off")?;
                    if raw.src == CALL_HELPER {
                        Call::Helper(raw.imm)
                    } else {
                        Call::Local(raw.imm)
                    }
                }
                CALL_KFUNC => Call::Kfunc {
                    btf_id: raw.imm,
                    module: raw.off,
                },
                _ => return Err("unknown call kind in src_reg"),
            };
            Ok(Insn::Call(call))
        }
        JMP_EXIT => {
            require(
                !is_jmp32 && raw.code & SRC_X == 0 && all_regs_zero && raw.off == 0 && raw.imm == 0,
                "exit uses reserved fields",
            )?;
            Ok(Insn::Exit)
        }
        _ => {
            let op = JmpOp::from_code(op).ok_or("unknown jump operation")?;
            let width = if is_jmp32 { Width::W32 } else { Width::W64 };
            Ok(Insn::Jmp {
                width,
                op,
                dst: reg(raw.dst)?,
                src: decode_source(raw)?,
                off: raw.off,
            })
        }
    }
}

fn decode_memory(raw: RawInsn) -> Result<Insn, &'static str> {
    let size = Size::from_code(raw.code);
    let dst = reg(raw.dst)?;
    let mode = raw.code & 0xe0;
    let off = raw.off;
    match (raw.code & 0x07, mode) {
        (CLASS_LDX, MODE_MEM | MODE_MEMSX) => {
            require(raw.imm == 0, "load uses reserved field imm")?;
            let src = reg(raw.src)?;
            if mode == MODE_MEM {
                return Ok(Insn::Load {
                    size,
                    dst,
                    src,
                    off,
                });
            }
            let insn = Insn::LoadSx {
                size,
                dst,
                src,
                off,
            };
            insn.check()?;
            Ok(insn)
        }
        (CLASS_STX, MODE_MEM) => {
            require(raw.imm == 0, "store uses reserved field imm")?;
            Ok(Insn::Store {
                size,
                dst,
                src: reg(raw.src)?,
                off,
            })
        }
        (CLASS_STX, MODE_ATOMIC) => {
            let op = AtomicOp::from_imm(raw.imm).ok_or("unknown atomic operation")?;
            let insn = Insn::Atomic {
                size,
                op,
                dst,
                src: reg(raw.src)?,
                off,
            };
            insn.check()?;
            Ok(insn)
        }
        (CLASS_ST, MODE_MEM) => {
            require(raw.src == 0, "store immediate uses reserved field src_reg")?;
            Ok(Insn::StoreImm {
                size,
                dst,
                off,
                imm: raw.imm,
            })
        }
        _ => Err("unknown memory mode for this class"),
    }
}

fn decode_legacy_load(raw: RawInsn) -> Result<Insn, &'static str> {
    let size = Size::from_code(raw.code);
    require(
        raw.dst == 0 && raw.off == 0,
        "legacy packet load uses reserved fields",
    )?;
    let insn = match raw.code & 0xe0 {
        MODE_ABS => {
            require(raw.src == 0, "ld_abs uses reserved field src_reg")?;
            Insn::LdAbs { size, imm: raw.imm }
        }
        MODE_IND => Insn::LdInd {
            size,
            src: reg(raw.src)?,
            imm: raw.imm,
        },
        _ => return Err("unknown load mode"),
    };
    insn.check()?;
    Ok(insn)
}

//! Every instruction form against known bytes and its verifier-log text.
//!
//! Bytes marked `clang` were produced by clang 14 (`-target bpf -mcpu=v3 -O2`)
//! and read with `llvm-objdump -d`. Forms clang 14 cannot emit (v4 sdiv/smod,
//! movsx, sign-extending loads, bswap, gotol; its assembler also rejects mod,
//! jset, store-immediate, ld_ind, pseudo calls and pseudo ld_imm64 sources) are
//! marked `spec`: written by hand from the kernel's
//! Documentation/bpf/standardization/instruction-set.rst.

use bpfhook::asm::text::{parse_program, print_insns};
use bpfhook::asm::*;

struct Case {
    insn: Insn,
    bytes: &'static str,
    text: &'static str,
}

fn alu(width: Width, op: AluOp, dst: Reg, src: Source) -> Insn {
    Insn::Alu {
        width,
        op,
        dst,
        src,
    }
}

fn jmp(width: Width, op: JmpOp, dst: Reg, src: Source, off: i16) -> Insn {
    Insn::Jmp {
        width,
        op,
        dst,
        src,
        off,
    }
}

fn atomic(size: Size, op: AtomicOp, dst: Reg, src: Reg, off: i16) -> Insn {
    Insn::Atomic {
        size,
        op,
        dst,
        src,
        off,
    }
}

fn cases() -> Vec<Case> {
    use AluOp::*;
    use Source::{Imm, Reg as X};
    use Width::{W32, W64};
    let case = |insn, bytes, text| Case { insn, bytes, text };
    vec![
        // clang: arithmetic.
        case(
            alu(W32, Mov, R2, Imm(-1)),
            "b4 02 00 00 ff ff ff ff",
            "w2 = -1",
        ),
        case(
            alu(W64, Add, R1, X(R2)),
            "0f 21 00 00 00 00 00 00",
            "r1 += r2",
        ),
        case(
            alu(W32, Add, R1, Imm(5)),
            "04 01 00 00 05 00 00 00",
            "w1 += 5",
        ),
        case(
            alu(W64, Sub, R3, X(R4)),
            "1f 43 00 00 00 00 00 00",
            "r3 -= r4",
        ),
        case(
            alu(W32, Sub, R3, Imm(2)),
            "14 03 00 00 02 00 00 00",
            "w3 -= 2",
        ),
        case(
            alu(W64, Mul, R1, Imm(3)),
            "27 01 00 00 03 00 00 00",
            "r1 *= 3",
        ),
        case(
            alu(W32, Mul, R1, X(R2)),
            "2c 21 00 00 00 00 00 00",
            "w1 *= w2",
        ),
        case(
            alu(W64, Div, R1, X(R2)),
            "3f 21 00 00 00 00 00 00",
            "r1 /= r2",
        ),
        case(
            alu(W32, Div, R1, Imm(4)),
            "34 01 00 00 04 00 00 00",
            "w1 /= 4",
        ),
        case(
            alu(W64, Or, R1, Imm(8)),
            "47 01 00 00 08 00 00 00",
            "r1 |= 8",
        ),
        case(
            alu(W32, Or, R1, X(R3)),
            "4c 31 00 00 00 00 00 00",
            "w1 |= w3",
        ),
        case(
            alu(W64, And, R1, X(R2)),
            "5f 21 00 00 00 00 00 00",
            "r1 &= r2",
        ),
        case(
            alu(W32, And, R1, Imm(255)),
            "54 01 00 00 ff 00 00 00",
            "w1 &= 255",
        ),
        case(
            alu(W64, Lsh, R1, Imm(2)),
            "67 01 00 00 02 00 00 00",
            "r1 <<= 2",
        ),
        case(
            alu(W32, Lsh, R1, X(R2)),
            "6c 21 00 00 00 00 00 00",
            "w1 <<= w2",
        ),
        case(
            alu(W64, Rsh, R1, X(R3)),
            "7f 31 00 00 00 00 00 00",
            "r1 >>= r3",
        ),
        case(
            alu(W32, Rsh, R1, Imm(1)),
            "74 01 00 00 01 00 00 00",
            "w1 >>= 1",
        ),
        case(
            Insn::Neg {
                width: W64,
                dst: R1,
            },
            "87 01 00 00 00 00 00 00",
            "r1 = -r1",
        ),
        case(
            Insn::Neg {
                width: W32,
                dst: R1,
            },
            "84 01 00 00 00 00 00 00",
            "w1 = -w1",
        ),
        case(
            alu(W64, Xor, R1, X(R2)),
            "af 21 00 00 00 00 00 00",
            "r1 ^= r2",
        ),
        case(
            alu(W32, Xor, R1, Imm(1)),
            "a4 01 00 00 01 00 00 00",
            "w1 ^= 1",
        ),
        case(
            alu(W64, Mov, R1, X(R2)),
            "bf 21 00 00 00 00 00 00",
            "r1 = r2",
        ),
        case(
            alu(W32, Mov, R1, X(R2)),
            "bc 21 00 00 00 00 00 00",
            "w1 = w2",
        ),
        case(
            alu(W64, Arsh, R1, Imm(3)),
            "c7 01 00 00 03 00 00 00",
            "r1 s>>= 3",
        ),
        case(
            alu(W32, Arsh, R1, X(R2)),
            "cc 21 00 00 00 00 00 00",
            "w1 s>>= w2",
        ),
        case(
            alu(W64, Mov, R2, Imm(-3)),
            "b7 02 00 00 fd ff ff ff",
            "r2 = -3",
        ),
        // spec: mod and the v4 signed forms.
        case(
            alu(W64, Mod, R1, X(R2)),
            "9f 21 00 00 00 00 00 00",
            "r1 %= r2",
        ),
        case(
            alu(W32, Mod, R1, Imm(10)),
            "94 01 00 00 0a 00 00 00",
            "w1 %= 10",
        ),
        case(
            alu(W64, SDiv, R1, X(R2)),
            "3f 21 01 00 00 00 00 00",
            "r1 s/= r2",
        ),
        case(
            alu(W32, SDiv, R1, Imm(-2)),
            "34 01 01 00 fe ff ff ff",
            "w1 s/= -2",
        ),
        case(
            alu(W64, SMod, R1, Imm(3)),
            "97 01 01 00 03 00 00 00",
            "r1 s%= 3",
        ),
        case(
            alu(W32, SMod, R1, X(R2)),
            "9c 21 01 00 00 00 00 00",
            "w1 s%= w2",
        ),
        case(
            Insn::MovSx {
                width: W64,
                dst: R0,
                src: R1,
                from: ExtendFrom::B8,
            },
            "bf 10 08 00 00 00 00 00",
            "r0 = (s8)r1",
        ),
        case(
            Insn::MovSx {
                width: W32,
                dst: R0,
                src: R1,
                from: ExtendFrom::B16,
            },
            "bc 10 10 00 00 00 00 00",
            "w0 = (s16)w1",
        ),
        case(
            Insn::MovSx {
                width: W64,
                dst: R3,
                src: R4,
                from: ExtendFrom::B32,
            },
            "bf 43 20 00 00 00 00 00",
            "r3 = (s32)r4",
        ),
        // clang: byte order.
        case(
            endian(ByteOrder::Be, SwapBits::B16),
            "dc 01 00 00 10 00 00 00",
            "r1 = be16 r1",
        ),
        case(
            endian(ByteOrder::Be, SwapBits::B32),
            "dc 01 00 00 20 00 00 00",
            "r1 = be32 r1",
        ),
        case(
            endian(ByteOrder::Be, SwapBits::B64),
            "dc 01 00 00 40 00 00 00",
            "r1 = be64 r1",
        ),
        case(
            endian(ByteOrder::Le, SwapBits::B16),
            "d4 01 00 00 10 00 00 00",
            "r1 = le16 r1",
        ),
        case(
            endian(ByteOrder::Le, SwapBits::B32),
            "d4 01 00 00 20 00 00 00",
            "r1 = le32 r1",
        ),
        case(
            endian(ByteOrder::Le, SwapBits::B64),
            "d4 01 00 00 40 00 00 00",
            "r1 = le64 r1",
        ),
        // spec: v4 unconditional byte swap.
        case(
            endian(ByteOrder::Swap, SwapBits::B16),
            "d7 01 00 00 10 00 00 00",
            "r1 = bswap16 r1",
        ),
        case(
            endian(ByteOrder::Swap, SwapBits::B64),
            "d7 01 00 00 40 00 00 00",
            "r1 = bswap64 r1",
        ),
        // clang: jumps.
        case(Insn::Ja { off: 1 }, "05 00 01 00 00 00 00 00", "goto pc+1"),
        case(
            jmp(W64, JmpOp::Jeq, R1, Imm(0), 1),
            "15 01 01 00 00 00 00 00",
            "if r1 == 0x0 goto pc+1",
        ),
        case(
            jmp(W64, JmpOp::Jeq, R1, X(R2), -1),
            "1d 21 ff ff 00 00 00 00",
            "if r1 == r2 goto pc-1",
        ),
        case(
            jmp(W64, JmpOp::Jgt, R1, Imm(5), 2),
            "25 01 02 00 05 00 00 00",
            "if r1 > 0x5 goto pc+2",
        ),
        case(
            jmp(W64, JmpOp::Jge, R1, X(R2), 2),
            "3d 21 02 00 00 00 00 00",
            "if r1 >= r2 goto pc+2",
        ),
        case(
            jmp(W64, JmpOp::Jne, R1, X(R2), 2),
            "5d 21 02 00 00 00 00 00",
            "if r1 != r2 goto pc+2",
        ),
        case(
            jmp(W64, JmpOp::Jsgt, R1, Imm(1), 2),
            "65 01 02 00 01 00 00 00",
            "if r1 s> 0x1 goto pc+2",
        ),
        case(
            jmp(W64, JmpOp::Jsge, R1, X(R2), 2),
            "7d 21 02 00 00 00 00 00",
            "if r1 s>= r2 goto pc+2",
        ),
        case(
            jmp(W64, JmpOp::Jlt, R1, Imm(9), 2),
            "a5 01 02 00 09 00 00 00",
            "if r1 < 0x9 goto pc+2",
        ),
        case(
            jmp(W64, JmpOp::Jle, R1, X(R2), 2),
            "bd 21 02 00 00 00 00 00",
            "if r1 <= r2 goto pc+2",
        ),
        case(
            jmp(W64, JmpOp::Jslt, R1, Imm(-1), 2),
            "c5 01 02 00 ff ff ff ff",
            "if r1 s< 0xffffffff goto pc+2",
        ),
        case(
            jmp(W64, JmpOp::Jsle, R1, X(R2), 2),
            "dd 21 02 00 00 00 00 00",
            "if r1 s<= r2 goto pc+2",
        ),
        case(
            jmp(W32, JmpOp::Jeq, R1, Imm(3), 2),
            "16 01 02 00 03 00 00 00",
            "if w1 == 0x3 goto pc+2",
        ),
        case(
            jmp(W32, JmpOp::Jne, R1, X(R2), 2),
            "5e 21 02 00 00 00 00 00",
            "if w1 != w2 goto pc+2",
        ),
        case(
            jmp(W32, JmpOp::Jslt, R1, X(R2), 2),
            "ce 21 02 00 00 00 00 00",
            "if w1 s< w2 goto pc+2",
        ),
        case(
            jmp(W32, JmpOp::Jgt, R1, Imm(-1), 2),
            "26 01 02 00 ff ff ff ff",
            "if w1 > 0xffffffff goto pc+2",
        ),
        // spec: jset and the v4 long jump.
        case(
            jmp(W64, JmpOp::Jset, R1, Imm(4), 2),
            "45 01 02 00 04 00 00 00",
            "if r1 & 0x4 goto pc+2",
        ),
        case(
            jmp(W32, JmpOp::Jset, R1, X(R2), -3),
            "4e 21 fd ff 00 00 00 00",
            "if w1 & w2 goto pc-3",
        ),
        case(
            Insn::Gotol { imm: 70000 },
            "06 00 00 00 70 11 01 00",
            "gotol pc+70000",
        ),
        // clang: helper call and exit; spec: pseudo calls.
        case(
            Insn::Call(Call::Helper(1)),
            "85 00 00 00 01 00 00 00",
            "call bpf_map_lookup_elem#1",
        ),
        case(
            Insn::Call(Call::Helper(9999)),
            "85 00 00 00 0f 27 00 00",
            "call unknown#9999",
        ),
        case(
            Insn::Call(Call::Local(5)),
            "85 10 00 00 05 00 00 00",
            "call pc+5",
        ),
        case(
            Insn::Call(Call::Local(-1)),
            "85 10 00 00 ff ff ff ff",
            "call pc-1",
        ),
        case(
            Insn::Call(Call::Kfunc {
                btf_id: 1000,
                module: 0,
            }),
            "85 20 00 00 e8 03 00 00",
            "call kernel-function#1000",
        ),
        case(
            Insn::Call(Call::Kfunc {
                btf_id: 1000,
                module: 2,
            }),
            "85 20 02 00 e8 03 00 00",
            "call kernel-function#1000@2",
        ),
        case(Insn::Exit, "95 00 00 00 00 00 00 00", "exit"),
        // clang: loads and stores.
        case(
            load(Size::B, R1, R2, 1),
            "71 21 01 00 00 00 00 00",
            "r1 = *(u8 *)(r2 +1)",
        ),
        case(
            load(Size::H, R1, R2, 2),
            "69 21 02 00 00 00 00 00",
            "r1 = *(u16 *)(r2 +2)",
        ),
        case(
            load(Size::W, R1, R2, 4),
            "61 21 04 00 00 00 00 00",
            "r1 = *(u32 *)(r2 +4)",
        ),
        case(
            load(Size::DW, R1, R10, -8),
            "79 a1 f8 ff 00 00 00 00",
            "r1 = *(u64 *)(r10 -8)",
        ),
        case(
            store(Size::B, R10, R1, -1),
            "73 1a ff ff 00 00 00 00",
            "*(u8 *)(r10 -1) = r1",
        ),
        case(
            store(Size::H, R10, R1, -2),
            "6b 1a fe ff 00 00 00 00",
            "*(u16 *)(r10 -2) = r1",
        ),
        case(
            store(Size::W, R10, R1, -4),
            "63 1a fc ff 00 00 00 00",
            "*(u32 *)(r10 -4) = r1",
        ),
        case(
            store(Size::DW, R10, R1, -8),
            "7b 1a f8 ff 00 00 00 00",
            "*(u64 *)(r10 -8) = r1",
        ),
        // spec: store immediate and v4 sign-extending loads.
        case(
            store_imm(Size::W, R10, -4, 7),
            "62 0a fc ff 07 00 00 00",
            "*(u32 *)(r10 -4) = 7",
        ),
        case(
            store_imm(Size::DW, R10, -16, -3),
            "7a 0a f0 ff fd ff ff ff",
            "*(u64 *)(r10 -16) = -3",
        ),
        case(
            store_imm(Size::B, R1, 0, 1),
            "72 01 00 00 01 00 00 00",
            "*(u8 *)(r1 +0) = 1",
        ),
        case(
            store_imm(Size::H, R1, 2, 2),
            "6a 01 02 00 02 00 00 00",
            "*(u16 *)(r1 +2) = 2",
        ),
        case(
            load_sx(Size::B, R1, R2, 1),
            "91 21 01 00 00 00 00 00",
            "r1 = *(s8 *)(r2 +1)",
        ),
        case(
            load_sx(Size::H, R1, R2, -2),
            "89 21 fe ff 00 00 00 00",
            "r1 = *(s16 *)(r2 -2)",
        ),
        case(
            load_sx(Size::W, R1, R2, 4),
            "81 21 04 00 00 00 00 00",
            "r1 = *(s32 *)(r2 +4)",
        ),
        // clang: atomics.
        case(
            atomic(Size::DW, AtomicOp::Add, R1, R2, 0),
            "db 21 00 00 00 00 00 00",
            "lock *(u64 *)(r1 +0) += r2",
        ),
        case(
            atomic(Size::W, AtomicOp::Add, R1, R2, 4),
            "c3 21 04 00 00 00 00 00",
            "lock *(u32 *)(r1 +4) += r2",
        ),
        case(
            atomic(Size::DW, AtomicOp::Or, R1, R2, 0),
            "db 21 00 00 40 00 00 00",
            "lock *(u64 *)(r1 +0) |= r2",
        ),
        case(
            atomic(Size::DW, AtomicOp::And, R1, R2, 0),
            "db 21 00 00 50 00 00 00",
            "lock *(u64 *)(r1 +0) &= r2",
        ),
        case(
            atomic(Size::DW, AtomicOp::Xor, R1, R2, 0),
            "db 21 00 00 a0 00 00 00",
            "lock *(u64 *)(r1 +0) ^= r2",
        ),
        case(
            atomic(Size::DW, AtomicOp::FetchAdd, R1, R6, 0),
            "db 61 00 00 01 00 00 00",
            "r6 = atomic64_fetch_add((u64 *)(r1 +0), r6)",
        ),
        case(
            atomic(Size::W, AtomicOp::FetchAdd, R2, R5, 0),
            "c3 52 00 00 01 00 00 00",
            "r5 = atomic_fetch_add((u32 *)(r2 +0), r5)",
        ),
        case(
            atomic(Size::DW, AtomicOp::FetchOr, R1, R5, 0),
            "db 51 00 00 41 00 00 00",
            "r5 = atomic64_fetch_or((u64 *)(r1 +0), r5)",
        ),
        case(
            atomic(Size::DW, AtomicOp::FetchAnd, R1, R5, 0),
            "db 51 00 00 51 00 00 00",
            "r5 = atomic64_fetch_and((u64 *)(r1 +0), r5)",
        ),
        case(
            atomic(Size::DW, AtomicOp::FetchXor, R1, R5, 0),
            "db 51 00 00 a1 00 00 00",
            "r5 = atomic64_fetch_xor((u64 *)(r1 +0), r5)",
        ),
        case(
            atomic(Size::W, AtomicOp::FetchOr, R2, R5, 0),
            "c3 52 00 00 41 00 00 00",
            "r5 = atomic_fetch_or((u32 *)(r2 +0), r5)",
        ),
        case(
            atomic(Size::W, AtomicOp::FetchAnd, R2, R5, 0),
            "c3 52 00 00 51 00 00 00",
            "r5 = atomic_fetch_and((u32 *)(r2 +0), r5)",
        ),
        case(
            atomic(Size::W, AtomicOp::FetchXor, R2, R5, 0),
            "c3 52 00 00 a1 00 00 00",
            "r5 = atomic_fetch_xor((u32 *)(r2 +0), r5)",
        ),
        case(
            atomic(Size::DW, AtomicOp::Xchg, R1, R5, 0),
            "db 51 00 00 e1 00 00 00",
            "r5 = atomic64_xchg((u64 *)(r1 +0), r5)",
        ),
        case(
            atomic(Size::W, AtomicOp::Xchg, R2, R5, 0),
            "c3 52 00 00 e1 00 00 00",
            "r5 = atomic_xchg((u32 *)(r2 +0), r5)",
        ),
        case(
            atomic(Size::DW, AtomicOp::CmpXchg, R1, R6, 0),
            "db 61 00 00 f1 00 00 00",
            "r0 = atomic64_cmpxchg((u64 *)(r1 +0), r0, r6)",
        ),
        case(
            atomic(Size::W, AtomicOp::CmpXchg, R2, R6, 0),
            "c3 62 00 00 f1 00 00 00",
            "r0 = atomic_cmpxchg((u32 *)(r2 +0), r0, r6)",
        ),
        // clang: ld_imm64 and legacy packet loads.
        case(
            Insn::LdImm64 {
                dst: R1,
                value: Imm64::Value(0x1234_5678_9abc_def0),
            },
            "18 01 00 00 f0 de bc 9a 00 00 00 00 78 56 34 12",
            "r1 = 0x123456789abcdef0 ll",
        ),
        case(
            Insn::LdAbs {
                size: Size::B,
                imm: 14,
            },
            "30 00 00 00 0e 00 00 00",
            "r0 = *(u8 *)skb[14]",
        ),
        case(
            Insn::LdAbs {
                size: Size::H,
                imm: 12,
            },
            "28 00 00 00 0c 00 00 00",
            "r0 = *(u16 *)skb[12]",
        ),
        // spec: ld_ind and the ld_imm64 pseudo sources.
        case(
            Insn::LdInd {
                size: Size::W,
                src: R6,
                imm: 2,
            },
            "40 60 00 00 02 00 00 00",
            "r0 = *(u32 *)skb[r6 + 2]",
        ),
        case(
            Insn::LdImm64 {
                dst: R1,
                value: Imm64::MapFd(5),
            },
            "18 11 00 00 05 00 00 00 00 00 00 00 00 00 00 00",
            "r1 = map[fd:5]",
        ),
        case(
            Insn::LdImm64 {
                dst: R2,
                value: Imm64::MapValue { fd: 5, offset: 16 },
            },
            "18 22 00 00 05 00 00 00 00 00 00 00 10 00 00 00",
            "r2 = map[fd:5][0]+16",
        ),
        case(
            Insn::LdImm64 {
                dst: R1,
                value: Imm64::BtfId { id: 77, btf_fd: 0 },
            },
            "18 31 00 00 4d 00 00 00 00 00 00 00 00 00 00 00",
            "r1 = btf[id:77]",
        ),
        case(
            Insn::LdImm64 {
                dst: R1,
                value: Imm64::BtfId { id: 77, btf_fd: 9 },
            },
            "18 31 00 00 4d 00 00 00 00 00 00 00 09 00 00 00",
            "r1 = btf[id:77][fd:9]",
        ),
        case(
            Insn::LdImm64 {
                dst: R2,
                value: Imm64::Func(3),
            },
            "18 42 00 00 03 00 00 00 00 00 00 00 00 00 00 00",
            "r2 = subprog[pc+3]",
        ),
        case(
            Insn::LdImm64 {
                dst: R1,
                value: Imm64::MapIdx(0),
            },
            "18 51 00 00 00 00 00 00 00 00 00 00 00 00 00 00",
            "r1 = map[idx:0]",
        ),
        case(
            Insn::LdImm64 {
                dst: R1,
                value: Imm64::MapIdxValue {
                    index: 1,
                    offset: 8,
                },
            },
            "18 61 00 00 01 00 00 00 00 00 00 00 08 00 00 00",
            "r1 = map[idx:1][0]+8",
        ),
    ]
}

fn endian(order: ByteOrder, bits: SwapBits) -> Insn {
    Insn::Endian {
        order,
        bits,
        dst: R1,
    }
}

fn load(size: Size, dst: Reg, src: Reg, off: i16) -> Insn {
    Insn::Load {
        size,
        dst,
        src,
        off,
    }
}

fn load_sx(size: Size, dst: Reg, src: Reg, off: i16) -> Insn {
    Insn::LoadSx {
        size,
        dst,
        src,
        off,
    }
}

fn store(size: Size, dst: Reg, src: Reg, off: i16) -> Insn {
    Insn::Store {
        size,
        dst,
        src,
        off,
    }
}

fn store_imm(size: Size, dst: Reg, off: i16, imm: i32) -> Insn {
    Insn::StoreImm {
        size,
        dst,
        off,
        imm,
    }
}

fn hex(text: &str) -> Vec<u8> {
    text.split_whitespace()
        .map(|byte| u8::from_str_radix(byte, 16).expect("test table hex"))
        .collect()
}

#[test]
fn every_form_encodes_to_known_bytes() {
    for case in cases() {
        assert_eq!(
            case.insn.to_bytes(),
            hex(case.bytes),
            "encoding {}",
            case.text
        );
    }
}

#[test]
fn every_form_decodes_from_known_bytes() {
    for case in cases() {
        let bytes = hex(case.bytes);
        let (insn, used) = Insn::decode(&bytes).unwrap_or_else(|e| panic!("{}: {e}", case.text));
        assert_eq!(insn, case.insn, "decoding {}", case.text);
        assert_eq!(used, bytes.len());
    }
}

#[test]
fn every_form_prints_and_parses_as_the_verifier_writes_it() {
    for case in cases() {
        assert_eq!(case.insn.to_string(), case.text);
        let program = parse_program(case.text).unwrap_or_else(|e| panic!("{}: {e}", case.text));
        assert_eq!(program.insns, vec![case.insn], "parsing {}", case.text);
    }
}

#[test]
fn whole_programs_round_trip_through_bytes_and_text() {
    let insns: Vec<Insn> = cases().into_iter().map(|case| case.insn).collect();
    let bytes = encode_program(&insns);
    assert_eq!(decode_program(&bytes).unwrap(), insns);
    let text = print_insns(&insns);
    let parsed = parse_program(&text).unwrap();
    assert_eq!(parsed.insns, insns);
    assert_eq!(print_insns(&parsed.insns), text);
}

#[test]
fn raw_insn_matches_struct_bpf_insn_layout() {
    let raw = RawInsn {
        code: 0x79,
        dst: 1,
        src: 10,
        off: -8,
        imm: 0,
    };
    assert_eq!(raw.to_bytes(), [0x79, 0xa1, 0xf8, 0xff, 0, 0, 0, 0]);
    assert_eq!(RawInsn::from_bytes(raw.to_bytes()), raw);
}

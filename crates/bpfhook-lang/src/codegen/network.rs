//! `skboutput()` and `socket_cookie()`: helpers on the kernel object a BTF-typed argument of
//! the probe points to. The argument is loaded straight from the context, as the verifier
//! typed it (every other read of the context turns pointers into plain numbers).

use bpfhook::asm::{AluOp, Helper, Size, R0, R1, R2, R3, R4, R5, R6};

use super::frame::{ProgramGen, Val};
use super::PACKETS_MAP;
use crate::ast::Expr;

/// What `skboutput()` writes before the packet: the call's index in `Events::pcaps`, the
/// packet's length (the perf sample is padded past it) and when (boot-time clock, ns).
pub const PACKET_HEADER_SIZE: u32 = 16;

/// `BPF_F_CURRENT_CPU`: the perf event of the CPU the program runs on.
const CURRENT_CPU: u64 = 0xffff_ffff;

impl ProgramGen<'_> {
    /// bpf_skb_output(skb, &packets, len << 32 | BPF_F_CURRENT_CPU, &header, 16).
    pub(super) fn skb_output(&mut self, args: &[Expr], expr: &Expr) -> Val {
        let (Some(&slot), Some(pcap), Some(len)) = (
            self.types.btf_arguments.get(&expr.id.0),
            self.types.pcap_outputs.get(&expr.id.0),
            args.get(2),
        ) else {
            return Val::Imm(0);
        };
        let index = super::intern(&mut self.events.pcaps, pcap.clone()) as i32;
        let len = self.expr(len);
        let header = self.mem(PACKET_HEADER_SIZE);
        self.load(R0, len);
        self.st_scratch(Size::W, header, index);
        self.stx_scratch(Size::W, header + 4, R0);
        self.b.call_helper(Helper::KtimeGetBootNs);
        self.stx_scratch(Size::DW, header + 8, R0);
        // The length as written (the low 32 bits): the kernel checks it against skb->len.
        self.ldx_scratch(Size::W, R3, header + 4);
        self.b
            .alu64_imm(AluOp::Lsh, R3, 32)
            .ld_imm64(R0, CURRENT_CPU)
            .alu64_reg(AluOp::Or, R3, R0)
            .ldx(Size::DW, R1, R6, slot)
            .ld_map_fd(R2, PACKETS_MAP);
        self.mem_address(R4, header);
        self.b
            .mov64_imm(R5, PACKET_HEADER_SIZE as i32)
            .call_helper(Helper::SkbOutput);
        self.spill(R0)
    }

    /// bpf_get_socket_cookie(sk).
    pub(super) fn socket_cookie(&mut self, expr: &Expr) -> Val {
        let Some(&slot) = self.types.btf_arguments.get(&expr.id.0) else {
            return Val::Imm(0);
        };
        self.b
            .ldx(Size::DW, R1, R6, slot)
            .call_helper(Helper::GetSocketCookie);
        self.spill(R0)
    }
}

//! `skboutput(PATH, SKB, LEN, OFFSET)` and `socket_cookie(SK)`: helpers that take a kernel
//! object, which the verifier accepts only as a pointer it typed itself (PTR_TO_BTF_ID). Such
//! pointers come from the context of BTF-typed programs (fentry, rawtracepoint loaded as
//! tp_btf), so the argument must be one of the probe's own: `args.NAME` or `argN`, cast or not.

use super::{Checker, ProbeContext};
use crate::ast::{Expr, ExprId, ExprKind};
use crate::diag::Span;
use crate::probes::ProbeKind;
use crate::types::Type;

/// Where a `skboutput()` call writes its packets: what the runtime needs besides the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcapOutput {
    pub path: String,
    /// Bytes left out at the start of each packet (an Ethernet header: 14).
    pub offset: u32,
}

impl Checker {
    pub(super) fn skb_output(&mut self, args: &[Expr], span: Span, id: ExprId) -> Type {
        let [path, skb, len, offset] = args else {
            self.error(
                span,
                "skboutput(PATH, SKB, LEN, OFFSET) takes four arguments",
            );
            return Type::U32;
        };
        let path = match &path.kind {
            ExprKind::String(text) => Some(text.clone()),
            _ => {
                self.error(
                    path.span,
                    "skboutput() expects the pcap file's path as a string literal",
                );
                None
            }
        };
        let slot = self.btf_object_argument("skboutput", skb, "struct sk_buff", span);
        if !self.expr(len).is_integer() {
            self.error(len.span, "skboutput()'s length must be an integer");
        }
        let offset = match self.constant(offset).map(u32::try_from) {
            Some(Ok(n)) => Some(n),
            _ => {
                self.error(
                    offset.span,
                    "skboutput()'s offset must be a non-negative integer constant",
                );
                None
            }
        };
        if let (Some(slot), Some(path), Some(offset)) = (slot, path, offset) {
            self.btf_arguments.insert(id.0, slot);
            self.pcap_outputs.insert(id.0, PcapOutput { path, offset });
        }
        Type::U32
    }

    pub(super) fn socket_cookie(&mut self, args: &[Expr], span: Span, id: ExprId) -> Type {
        let [sk] = args else {
            self.error(span, "socket_cookie(SK) takes one argument");
            return Type::U64;
        };
        if let Some(slot) = self.btf_object_argument("socket_cookie", sk, "struct sock", span) {
            self.btf_arguments.insert(id.0, slot);
        }
        Type::U64
    }

    /// Checks that `arg` is a `STRUCT *` argument of the probe in its BTF-typed context, and
    /// gives its offset in the context.
    fn btf_object_argument(
        &mut self,
        function: &str,
        arg: &Expr,
        strukt: &str,
        span: Span,
    ) -> Option<i16> {
        let ty = self.expr(arg);
        if !points_to(&ty, strukt) {
            self.error(
                arg.span,
                format!("{function}() only supports '{strukt} *' as the argument ({ty} provided)"),
            );
            return None;
        }
        let instance = self.instance.as_ref()?;
        if !instance.has_btf_context() {
            let why = match &instance.kind {
                ProbeKind::RawTracepoint { name, .. } => format!(
                    "this kernel cannot load rawtracepoint:{name} as a BTF-typed program (tp_btf), which {function}() needs"
                ),
                _ => format!(
                    "{function}() can only be used in fentry/fexit and rawtracepoint probes (it needs the probe's BTF-typed '{strukt} *' argument)"
                ),
            };
            self.error(span, why);
            return None;
        }
        let slot = self.argument_slot(arg);
        let declared = slot.and_then(|offset| self.argument_type(offset));
        match (slot, declared) {
            (Some(offset), Some(declared)) if points_to(&declared, strukt) => Some(offset),
            (Some(_), Some(declared)) => {
                self.error(
                    arg.span,
                    format!("{function}(): this argument of the probe is a '{declared}', not a '{strukt} *'"),
                );
                None
            }
            (Some(offset), None) => {
                self.error(
                    arg.span,
                    format!("{function}(): the probe has no arg{}", offset / 8),
                );
                None
            }
            (None, _) => {
                self.error(
                    arg.span,
                    format!("{function}() takes one of the probe's own arguments (args.NAME or argN): the verifier accepts only a '{strukt} *' it typed itself"),
                );
                None
            }
        }
    }

    /// The context offset `args.NAME` or `argN` (cast or not) reads.
    fn argument_slot(&self, arg: &Expr) -> Option<i16> {
        match &arg.kind {
            ExprKind::Cast { operand, .. } => self.argument_slot(operand),
            ExprKind::Identifier(name) => {
                let n: i16 = name.strip_prefix("arg")?.parse().ok()?;
                (0..12).contains(&n).then_some(8 * n)
            }
            ExprKind::Field {
                base,
                field,
                arrow: false,
            } if matches!(&base.kind, ExprKind::Identifier(b) if b == "args") => {
                let Some(Type::Record(args)) = self.types.get(&base.id.0) else {
                    return None;
                };
                let offset = args.layout.field(&field.name)?.offset;
                i16::try_from(offset).ok()
            }
            _ => None,
        }
    }

    /// The BTF type of the argument at `offset` of the context.
    fn argument_type(&mut self, offset: i16) -> Option<Type> {
        let context = self.raw_tracepoint_args().unwrap_or(self.context.clone());
        let (ProbeContext::RawTracepoint { args: Some(args) }
        | ProbeContext::Trampoline {
            args: Some(args), ..
        }) = context
        else {
            return None;
        };
        let field = args
            .layout
            .fields
            .iter()
            .find(|f| f.offset == offset as u32)?;
        Some(field.ty.clone())
    }
}

/// `ty` is a pointer to the record `strukt` (`struct sock`).
fn points_to(ty: &Type, strukt: &str) -> bool {
    matches!(ty, Type::Pointer(to) if matches!(to.as_ref(), Type::Record(r) if r.name == strukt))
}

#[cfg(test)]
mod tests {
    use crate::probes::{ProbeInstance, ProbeKind};
    use crate::sema::{analyze, Settings};

    /// Where the kernel cannot load tp_btf the probe is a plain raw_tp, whose arguments are
    /// untyped numbers to the verifier.
    #[test]
    fn plain_raw_tracepoints_cannot_pass_kernel_objects() {
        let source = r#"rawtracepoint:consume_skb { skboutput("x.pcap", args.skb, 1, 0); }"#;
        let program = crate::parser::parse(source).expect("parses");
        let instance = ProbeInstance {
            name: "rawtracepoint:consume_skb".to_owned(),
            kind: ProbeKind::RawTracepoint {
                name: "consume_skb".to_owned(),
                tp_btf: false,
            },
        };
        assert_eq!(instance.section(), "raw_tp/consume_skb");
        let errors = analyze(&program, vec![vec![instance]], Settings::default())
            .expect_err("a raw_tp cannot call skb_output");
        assert!(
            errors.0[0].message.contains(
                "this kernel cannot load rawtracepoint:consume_skb as a BTF-typed program (tp_btf), which skboutput() needs"
            ),
            "{:?}",
            errors.0
        );
    }
}

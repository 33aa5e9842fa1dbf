//! What `BPF_PROG_LOAD` needs to know from a program's section: its type, the attach type the
//! verifier checks it against, and flags.

use aya_obj::generated::{bpf_attach_type as a, bpf_prog_type as p};
use aya_obj::ProgramSection as S;

const BPF_F_SLEEPABLE: u32 = 1 << 4;
const BPF_F_XDP_HAS_FRAGS: u32 = 1 << 5;

/// The load-time kind of a program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProgramKind {
    pub prog_type: p,
    /// `None` where the kernel takes none at load time.
    pub expected_attach_type: Option<a>,
    pub flags: u32,
}

impl ProgramKind {
    fn new(prog_type: p) -> Self {
        Self {
            prog_type,
            expected_attach_type: None,
            flags: 0,
        }
    }

    fn expecting(mut self, attach_type: a) -> Self {
        self.expected_attach_type = Some(attach_type);
        self
    }

    fn sleepable(mut self, sleepable: bool) -> Self {
        if sleepable {
            self.flags |= BPF_F_SLEEPABLE;
        }
        self
    }

    /// Whether the program attaches to a kernel function named in BTF at load time.
    pub fn needs_attach_btf_id(self) -> bool {
        matches!(
            self.prog_type,
            p::BPF_PROG_TYPE_TRACING | p::BPF_PROG_TYPE_LSM
        )
    }
}

pub(crate) fn kind_of(section: &S) -> ProgramKind {
    match section {
        S::KProbe | S::KRetProbe => ProgramKind::new(p::BPF_PROG_TYPE_KPROBE),
        S::UProbe { sleepable } | S::URetProbe { sleepable } => {
            ProgramKind::new(p::BPF_PROG_TYPE_KPROBE).sleepable(*sleepable)
        }
        S::TracePoint => ProgramKind::new(p::BPF_PROG_TYPE_TRACEPOINT),
        S::RawTracePoint => ProgramKind::new(p::BPF_PROG_TYPE_RAW_TRACEPOINT),
        S::BtfTracePoint => {
            ProgramKind::new(p::BPF_PROG_TYPE_TRACING).expecting(a::BPF_TRACE_RAW_TP)
        }
        S::FEntry { sleepable } => ProgramKind::new(p::BPF_PROG_TYPE_TRACING)
            .expecting(a::BPF_TRACE_FENTRY)
            .sleepable(*sleepable),
        S::FExit { sleepable } => ProgramKind::new(p::BPF_PROG_TYPE_TRACING)
            .expecting(a::BPF_TRACE_FEXIT)
            .sleepable(*sleepable),
        S::Lsm { sleepable } => ProgramKind::new(p::BPF_PROG_TYPE_LSM)
            .expecting(a::BPF_LSM_MAC)
            .sleepable(*sleepable),
        S::LsmCgroup => ProgramKind::new(p::BPF_PROG_TYPE_LSM).expecting(a::BPF_LSM_CGROUP),
        S::Iter { sleepable } => ProgramKind::new(p::BPF_PROG_TYPE_TRACING)
            .expecting(a::BPF_TRACE_ITER)
            .sleepable(*sleepable),
        S::Extension => ProgramKind::new(p::BPF_PROG_TYPE_EXT),
        S::PerfEvent => ProgramKind::new(p::BPF_PROG_TYPE_PERF_EVENT),
        S::SocketFilter => ProgramKind::new(p::BPF_PROG_TYPE_SOCKET_FILTER),
        S::Xdp { frags, attach_type } => {
            let mut kind = ProgramKind::new(p::BPF_PROG_TYPE_XDP).expecting((*attach_type).into());
            if *frags {
                kind.flags |= BPF_F_XDP_HAS_FRAGS;
            }
            kind
        }
        S::SchedClassifier => ProgramKind::new(p::BPF_PROG_TYPE_SCHED_CLS),
        S::SockOps => ProgramKind::new(p::BPF_PROG_TYPE_SOCK_OPS),
        S::CgroupSkb { attach_type } => {
            let kind = ProgramKind::new(p::BPF_PROG_TYPE_CGROUP_SKB);
            match attach_type {
                Some(t) => kind.expecting((*t).into()),
                None => kind,
            }
        }
        S::CgroupSockAddr { attach_type } => {
            ProgramKind::new(p::BPF_PROG_TYPE_CGROUP_SOCK_ADDR).expecting((*attach_type).into())
        }
        S::CgroupSock { attach_type } => {
            ProgramKind::new(p::BPF_PROG_TYPE_CGROUP_SOCK).expecting((*attach_type).into())
        }
        S::CgroupSockopt { attach_type } => {
            ProgramKind::new(p::BPF_PROG_TYPE_CGROUP_SOCKOPT).expecting((*attach_type).into())
        }
        S::CgroupSysctl => ProgramKind::new(p::BPF_PROG_TYPE_CGROUP_SYSCTL),
        S::CgroupDevice => ProgramKind::new(p::BPF_PROG_TYPE_CGROUP_DEVICE),
        S::SkMsg => ProgramKind::new(p::BPF_PROG_TYPE_SK_MSG),
        S::SkSkbStream { kind } => {
            ProgramKind::new(p::BPF_PROG_TYPE_SK_SKB).expecting((*kind).into())
        }
        S::SkLookup => ProgramKind::new(p::BPF_PROG_TYPE_SK_LOOKUP).expecting(a::BPF_SK_LOOKUP),
        S::SkReuseport { attach_type } => {
            ProgramKind::new(p::BPF_PROG_TYPE_SK_REUSEPORT).expecting((*attach_type).into())
        }
        S::FlowDissector => {
            ProgramKind::new(p::BPF_PROG_TYPE_FLOW_DISSECTOR).expecting(a::BPF_FLOW_DISSECTOR)
        }
        S::LircMode2 => ProgramKind::new(p::BPF_PROG_TYPE_LIRC_MODE2),
    }
}

//! Tracepoints, kprobes, uprobes and perf_event programs all run from a perf event: open the
//! event, then hang the program on it, with a bpf link where the kernel has them (5.15).

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use aya_obj::generated::{bpf_attach_type, perf_event_attr};

use super::{kernel_error, AttachError};
use crate::sys::{self, LinkTarget};

/// A zeroed `perf_event_attr` of `type_` and `config`, with its size set.
pub(super) fn event_attr(type_: u32, config: u64) -> perf_event_attr {
    // SAFETY: perf_event_attr is a plain C struct; all-zero is "every option off".
    let mut attr: perf_event_attr = unsafe { std::mem::zeroed() };
    attr.type_ = type_;
    attr.size = std::mem::size_of::<perf_event_attr>() as u32;
    attr.config = config;
    attr
}

/// Opens the event and attaches `program`; `what` names the event in errors. The returned fds
/// (link first, then event) detach when dropped.
pub(super) fn open_and_attach(
    program: BorrowedFd<'_>,
    attr: &perf_event_attr,
    pid: i32,
    cpu: i32,
    what: &str,
) -> Result<Vec<OwnedFd>, AttachError> {
    let event = sys::perf_event_open(attr, pid, cpu)
        .map_err(|e| kernel_error(format!("opening perf event {what}"), e))?;
    let attaching = |e| kernel_error(format!("attaching to {what}"), e);
    if aya::features().bpf_perf_link() {
        let link = sys::link_create(
            program,
            LinkTarget::Fd(event.as_fd()),
            bpf_attach_type::BPF_PERF_EVENT as u32,
            0,
        )
        .map_err(|e| attaching(e.error))?;
        Ok(vec![link, event])
    } else {
        sys::perf_event_set_bpf(event.as_fd(), program).map_err(attaching)?;
        Ok(vec![event])
    }
}

/// A dynamic PMU's type and the config bit that makes its probe a return probe
/// (`/sys/bus/event_source/devices/{kprobe,uprobe}`).
pub(super) struct ProbePmu {
    pub type_: u32,
    pub retprobe_bit: u32,
}

impl ProbePmu {
    pub fn read(name: &str) -> Result<Self, AttachError> {
        let dir = Path::new("/sys/bus/event_source/devices").join(name);
        let read = |file: &str| {
            let path = dir.join(file);
            std::fs::read_to_string(&path).map_err(|error| AttachError::Io {
                action: format!("reading {}", path.display()),
                error,
            })
        };
        let invalid = |file: &str, text: &str| AttachError::Io {
            action: format!("reading {}/{file}", dir.display()),
            error: io::Error::new(io::ErrorKind::InvalidData, format!("unexpected `{text}`")),
        };
        let type_text = read("type")?;
        let type_ = type_text
            .trim()
            .parse()
            .map_err(|_| invalid("type", &type_text))?;
        // `config:0`: the bit of `config` that asks for a return probe.
        let bit_text = read("format/retprobe")?;
        let retprobe_bit = bit_text
            .trim()
            .strip_prefix("config:")
            .and_then(|bit| bit.parse().ok())
            .ok_or_else(|| invalid("format/retprobe", &bit_text))?;
        Ok(Self {
            type_,
            retprobe_bit,
        })
    }

    /// The attr of a probe on `name` (a kernel function or a binary's path) at `offset`.
    /// `name` must outlive every use of the attr.
    pub fn attr(&self, name: &CString, offset: u64, ret: bool) -> perf_event_attr {
        let mut attr = event_attr(self.type_, 0);
        if ret {
            attr.config |= 1 << self.retprobe_bit;
        }
        attr.__bindgen_anon_3.config1 = name.as_ptr() as u64;
        attr.__bindgen_anon_4.config2 = offset;
        attr
    }
}

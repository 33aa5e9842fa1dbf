//! BPF iterators (`iter/task`, `iter/task_file`, `iter/bpf_map`…): the program is attached
//! through an iterator link, and runs when a file made from that link is read, once per
//! kernel object the iterator walks (and once more with none, at the end).

use std::fs::File;
use std::os::fd::{BorrowedFd, OwnedFd};

use aya_obj::generated::bpf_attach_type;

use super::tracing::btf_function;
use super::{kernel_error, AttachError, Target};
use crate::kernel::features::{self, Feature};
use crate::sys::{self, LinkTarget};

/// The kernel function an iterator target is registered as, which its program attaches to.
pub(crate) fn btf_name(target: &str) -> String {
    format!("bpf_iter_{target}")
}

pub(super) fn resolve(target: &str) -> Result<Target, AttachError> {
    btf_function(&btf_name(target), "BPF iterator", target)?;
    features::check(Feature::Iter)?;
    Ok(Target::Iter {
        target: target.to_owned(),
    })
}

pub(super) fn attach(program: BorrowedFd<'_>, target: &str) -> Result<OwnedFd, AttachError> {
    sys::link_create(
        program,
        LinkTarget::None,
        bpf_attach_type::BPF_TRACE_ITER as u32,
        0,
    )
    .map_err(|e| {
        // Map iterators (bpf_map_elem, bpf_sk_storage_map, sockmap) walk one map, which the
        // link must name; without it the kernel says EBADF or EINVAL.
        kernel_error(
            format!("creating the iterator link of iter:{target}"),
            e.error,
        )
    })
}

/// A new reading of the iterator behind `link`: reading the file to its end runs the program
/// over every object.
pub fn open(link: BorrowedFd<'_>) -> Result<File, AttachError> {
    sys::iter_create(link)
        .map(File::from)
        .map_err(|e| kernel_error("opening the iterator (BPF_ITER_CREATE)", e.error))
}

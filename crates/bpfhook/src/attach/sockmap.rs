//! sk_msg and sk_skb programs attach to a sockmap or sockhash of their object, and run for the
//! sockets user space puts in it. The attachment is `BPF_PROG_ATTACH` on the map (every kernel
//! with sockmaps has it), undone by a guard.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use aya::maps::Map;
use aya_obj::generated::bpf_attach_type;

use super::{AttachError, AttachOptions, Target};
use crate::hook::Hook;
use crate::loader::LoadedObject;
use crate::maps;
use crate::sys;

pub(super) fn resolve(hook: &Hook, opts: &AttachOptions) -> Target {
    // Which map is known once the object is loaded.
    Target::Sockmap {
        hook: hook.clone(),
        map: opts.sockmap.clone(),
    }
}

pub(super) fn attach(
    program: BorrowedFd<'_>,
    object: &LoadedObject,
    hook: &Hook,
    wanted: Option<&str>,
) -> Result<ProgAttachment, AttachError> {
    let (name, map) = sockmap(object, hook, wanted)?;
    let attach_type = match hook {
        Hook::SkSkb {
            stage: "stream_parser",
        } => bpf_attach_type::BPF_SK_SKB_STREAM_PARSER,
        Hook::SkSkb { .. } => bpf_attach_type::BPF_SK_SKB_STREAM_VERDICT,
        _ => bpf_attach_type::BPF_SK_MSG_VERDICT,
    } as u32;
    let io = |action: &str, error| AttachError::Io {
        action: format!("{action} ({hook} on map {name})"),
        error,
    };
    // The guard keeps fds of its own: detaching needs both, whatever is closed first.
    let program = program
        .try_clone_to_owned()
        .map_err(|e| io("duplicating the program fd", e))?;
    let map = map
        .try_clone_to_owned()
        .map_err(|e| io("duplicating the map fd", e))?;
    sys::prog_attach(program.as_fd(), map.as_fd(), attach_type, true)
        .map_err(|e| super::kernel_error(format!("attaching {hook} to map {name}"), e.error))?;
    Ok(ProgAttachment {
        program,
        map,
        attach_type,
    })
}

/// The object's sockmap or sockhash: the one named, or the only one.
fn sockmap<'o>(
    object: &'o LoadedObject,
    hook: &Hook,
    wanted: Option<&str>,
) -> Result<(&'o str, BorrowedFd<'o>), AttachError> {
    let candidates: Vec<(&str, &Map)> = object
        .maps()
        .filter(|(_, map)| matches!(map, Map::SockMap(_) | Map::SockHash(_)))
        .collect();
    let names = || {
        let names: Vec<&str> = candidates.iter().map(|(n, _)| *n).collect();
        names.join(", ")
    };
    let found = match wanted {
        Some(wanted) => candidates.iter().find(|(name, _)| *name == wanted),
        None if candidates.len() == 1 => candidates.first(),
        None if candidates.is_empty() => {
            return Err(AttachError::NeedsOption {
                hook: hook.to_string(),
                option: "a sockmap or sockhash in its object (it runs for the sockets put there)",
            })
        }
        None => {
            return Err(AttachError::NeedsOption {
                hook: hook.to_string(),
                option: "a sockmap: --sockmap NAME (the object has several)",
            })
        }
    };
    found
        .map(|(name, map)| (*name, maps::fd(map)))
        .ok_or_else(|| AttachError::Missing {
            what: "sockmap or sockhash",
            name: wanted.unwrap_or_default().to_owned(),
            hint: format!(" in the object (it has: {})", names()),
        })
}

/// A program attached to a map with `BPF_PROG_ATTACH`; dropping it detaches.
#[derive(Debug)]
pub struct ProgAttachment {
    program: OwnedFd,
    map: OwnedFd,
    attach_type: u32,
}

impl Drop for ProgAttachment {
    fn drop(&mut self) {
        // If this fails the map is going anyway, and the attachment with it.
        let _ = sys::prog_attach(
            self.program.as_fd(),
            self.map.as_fd(),
            self.attach_type,
            false,
        );
    }
}

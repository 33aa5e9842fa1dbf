//! Programs that outlive the process: pin a live [`Manager`]'s links, programs and maps into a
//! directory on bpffs, with a manifest, and later remove exactly what the manifest lists.
//!
//! Layout of `DIR` (bpffs names may not contain `.`, so `.rodata` is pinned as `_rodata`):
//!
//! ```text
//! DIR/manifest        a frozen one-entry array map named `bpfhook_pins` holding the JSON manifest
//! DIR/links/PROG      the program's bpf link (`PROG_0`, `PROG_1`… when it has several)
//! DIR/progs/PROG      the program
//! DIR/maps/MAP        each map of the object
//! ```
//!
//! bpffs holds no regular files, so the manifest is itself a pinned map. Only bpf links can be
//! pinned as attachments: a netlink TC filter, a socket filter's socket or a sockmap attachment
//! belongs to the process that made it, so such programs are refused before anything is pinned.
//! Pinning is all or nothing: a failure removes every pin made so far, and the directory.

use std::collections::HashSet;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Component, Path, PathBuf};

use aya_obj::generated::bpf_map_type;
use serde::{Deserialize, Serialize};

use crate::attach::{Attachment, Target, TcMode};
use crate::inspect::holders::describe_fd;
use crate::inspect::pins::{self, on_bpffs, PinInfo};
use crate::inspect::InspectError;
use crate::manager::{Loaded, Manager, ProgramState};
use crate::sys::{self, MapCreate, ObjectKind, SyscallError};

/// The manifest's pin, in `DIR`.
pub const MANIFEST: &str = "manifest";
/// The manifest map's kernel name: how a bpfhook directory is told from a foreign one.
const MANIFEST_MAP_NAME: &str = "bpfhook_pins";
const LINKS: &str = "links";
const PROGRAMS: &str = "progs";
const MAPS: &str = "maps";

const NETLINK_TC: &str =
    "a netlink TC filter (cls_bpf on clsact) is not a bpf link and is removed \
                          when bpfhook exits; use --tc-mode tcx (Linux 6.6)";
const SOCKET_FILTER: &str =
    "a socket filter is an option of bpfhook's own packet socket, not a bpf link";
const SOCKMAP: &str = "sk_msg/sk_skb programs are attached to their sockmap with BPF_PROG_ATTACH, \
                       not a bpf link";
const PERF_IOCTL: &str = "this kernel has no perf links (Linux 5.15), so the program hangs on a \
                          perf event that closes when bpfhook exits";
const NO_LINK: &str = "nothing but bpfhook's own file descriptors holds it on its hook";

/// What `DIR` holds, as recorded in its manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The object file the programs came from.
    pub object: PathBuf,
    /// Links first, then programs, then maps: the order in which `unload` removes them.
    pub pins: Vec<Pin>,
}

/// One pin of a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pin {
    /// Relative to `DIR`.
    pub path: PathBuf,
    pub kind: PinKind,
    /// The kernel id when pinned.
    pub id: u32,
    /// The program's or map's name (a link: its program's).
    pub name: String,
    /// Where the program is attached (links and programs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum PinKind {
    #[serde(rename = "link")]
    Link,
    #[serde(rename = "prog")]
    Program,
    #[serde(rename = "map")]
    Map,
}

#[derive(Debug, thiserror::Error)]
pub enum PinError {
    #[error("program `{program}` ({hook}) cannot outlive bpfhook: {reason}")]
    NotPinnable {
        program: String,
        hook: String,
        reason: &'static str,
    },
    #[error("{} already exists and is not an empty directory; pin into a new one", .0.display())]
    NotEmpty(PathBuf),
    #[error("two pins would be named {}", .0.display())]
    Clash(PathBuf),
    #[error("pinning {} at {}", .name, .path.display())]
    Pin {
        name: String,
        path: PathBuf,
        #[source]
        source: SyscallError,
    },
    #[error("writing the manifest: {0}")]
    WriteManifest(#[source] SyscallError),
    #[error("{} holds no bpfhook manifest (`{MANIFEST}`); it was not made by `bpfhook load --pin`", .0.display())]
    NoManifest(PathBuf),
    #[error("the manifest in {}: {reason}", .dir.display())]
    BadManifest { dir: PathBuf, reason: String },
    #[error("{} still holds pins its manifest does not list, left in place: {}", .dir.display(), .names.join(", "))]
    Leftover { dir: PathBuf, names: Vec<String> },
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Inspect(#[from] InspectError),
}

/// Why programs at this target cannot be pinned, if the target alone says so.
pub fn refusal(target: &Target) -> Option<&'static str> {
    match target {
        Target::SocketFilter { .. } => Some(SOCKET_FILTER),
        Target::Tc {
            mode: TcMode::Netlink,
            ..
        } => Some(NETLINK_TC),
        Target::Sockmap { .. } => Some(SOCKMAP),
        Target::Tracepoint { .. }
        | Target::Kprobe { .. }
        | Target::Uprobe(_)
        | Target::PerfEvent { .. }
            if !aya::features().bpf_perf_link() =>
        {
            Some(PERF_IOCTL)
        }
        _ => None,
    }
}

/// Refuses, before any program is loaded, targets whose attachment could not be pinned.
pub fn check(loaded: &Loaded) -> Result<(), PinError> {
    for (name, target) in loaded.targets() {
        if let Some(reason) = refusal(target) {
            return Err(not_pinnable(name, target, reason));
        }
    }
    Ok(())
}

fn not_pinnable(program: &str, target: &Target, reason: &'static str) -> PinError {
    PinError::NotPinnable {
        program: program.to_owned(),
        hook: target.to_string(),
        reason,
    }
}

/// Pins every link, program and map of `manager` under `dir` (created here; an existing one
/// must be empty and on bpffs) and writes the manifest. Then the manager is dropped: the pins
/// keep the programs attached. On failure every pin made is removed and the manager dropped,
/// so everything detaches.
pub fn pin(manager: Manager, dir: &Path, object: &Path) -> Result<Manifest, PinError> {
    let planned = plan(&manager)?;
    let mut made = Made::default();
    prepare_dir(dir, &mut made)?;
    for sub in [LINKS, PROGRAMS, MAPS] {
        make_dir(&dir.join(sub), &mut made)?;
    }
    // Maps, then programs, then links: the reverse of the manifest's (removal) order.
    for (pin, fd) in planned.iter().rev() {
        let path = dir.join(&pin.path);
        sys::obj_pin(*fd, &path).map_err(|source| PinError::Pin {
            name: pin.name.clone(),
            path: path.clone(),
            source,
        })?;
        made.pins.push(path);
    }
    let manifest = Manifest {
        object: object.to_path_buf(),
        pins: planned.into_iter().map(|(pin, _)| pin).collect(),
    };
    write_manifest(&manifest, &dir.join(MANIFEST))?;
    made.pins.push(dir.join(MANIFEST));
    made.keep();
    drop(manager);
    Ok(manifest)
}

/// Every pin to make with the fd it pins, in manifest order; refuses programs not held by links.
fn plan(manager: &Manager) -> Result<Vec<(Pin, BorrowedFd<'_>)>, PinError> {
    let mut links = Vec::new();
    let mut programs = Vec::new();
    for (status, program, attachments) in manager.attached() {
        let ProgramState::Attached(target) = &status.state else {
            continue;
        };
        let hook = target.to_string();
        // A perf event fd beside its perf link is held by the link; anything else is not.
        let link_fds: Vec<(BorrowedFd<'_>, u32)> = attachments
            .iter()
            .filter_map(|a| match a {
                Attachment::Fd(fd) => match describe_fd(fd.as_fd()) {
                    Some((ObjectKind::Link, id)) => Some((fd.as_fd(), id)),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        let all_fds = attachments.iter().all(|a| matches!(a, Attachment::Fd(_)));
        if link_fds.is_empty() || !all_fds {
            let netlink = attachments
                .iter()
                .any(|a| matches!(a, Attachment::TcFilter(_)));
            let reason = if netlink {
                NETLINK_TC
            } else {
                refusal(target).unwrap_or(NO_LINK)
            };
            return Err(not_pinnable(&status.name, target, reason));
        }
        let file = pin_name(&status.name);
        let several = link_fds.len() > 1;
        for (index, (fd, id)) in link_fds.into_iter().enumerate() {
            let name = if several {
                format!("{file}_{index}")
            } else {
                file.clone()
            };
            links.push((
                Pin {
                    path: Path::new(LINKS).join(name),
                    kind: PinKind::Link,
                    id,
                    name: status.name.clone(),
                    hook: Some(hook.clone()),
                },
                fd,
            ));
        }
        let id = describe_fd(program).map_or(0, |(_, id)| id);
        programs.push((
            Pin {
                path: Path::new(PROGRAMS).join(&file),
                kind: PinKind::Program,
                id,
                name: status.name.clone(),
                hook: Some(hook),
            },
            program,
        ));
    }
    let mut maps = Vec::new();
    for (name, map) in manager.maps() {
        let fd = crate::maps::fd(map);
        maps.push((
            Pin {
                path: Path::new(MAPS).join(pin_name(name)),
                kind: PinKind::Map,
                id: describe_fd(fd).map_or(0, |(_, id)| id),
                name: name.to_owned(),
                hook: None,
            },
            fd,
        ));
    }
    maps.sort_by(|a, b| a.0.path.cmp(&b.0.path));
    let planned: Vec<_> = links.into_iter().chain(programs).chain(maps).collect();
    let mut seen = HashSet::new();
    for (pin, _) in &planned {
        if !seen.insert(&pin.path) {
            return Err(PinError::Clash(pin.path.clone()));
        }
    }
    Ok(planned)
}

/// bpffs refuses names with a `.` in them (they are reserved for the kernel's own files).
fn pin_name(name: &str) -> String {
    name.replace(['.', '/'], "_")
}

/// Creates `dir`, or accepts an existing empty one; either way it must be on bpffs.
fn prepare_dir(dir: &Path, made: &mut Made) -> Result<(), PinError> {
    let io = |source| PinError::Io {
        path: dir.to_path_buf(),
        source,
    };
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(PinError::NotEmpty(dir.to_path_buf()));
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let parent = match dir.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            if !on_bpffs(parent)? {
                return Err(InspectError::NotBpffs(dir.to_path_buf()).into());
            }
            make_dir(dir, made)?;
        }
        Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => {
            return Err(PinError::NotEmpty(dir.to_path_buf()))
        }
        Err(e) => return Err(io(e)),
    }
    if !on_bpffs(dir)? {
        return Err(InspectError::NotBpffs(dir.to_path_buf()).into());
    }
    Ok(())
}

fn make_dir(path: &Path, made: &mut Made) -> Result<(), PinError> {
    std::fs::create_dir(path).map_err(|source| PinError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    made.dirs.push(path.to_path_buf());
    Ok(())
}

/// Pins and directories made so far; dropped before [`Made::keep`], it removes them again.
#[derive(Default)]
struct Made {
    pins: Vec<PathBuf>,
    dirs: Vec<PathBuf>,
}

impl Made {
    fn keep(mut self) {
        self.pins.clear();
        self.dirs.clear();
    }
}

impl Drop for Made {
    fn drop(&mut self) {
        for pin in self.pins.iter().rev() {
            let _ = std::fs::remove_file(pin);
        }
        for dir in self.dirs.iter().rev() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// The manifest as JSON in a frozen one-entry array map, pinned at `path`.
fn write_manifest(manifest: &Manifest, path: &Path) -> Result<(), PinError> {
    let json = serde_json::to_vec(manifest).map_err(|e| PinError::BadManifest {
        dir: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let map = sys::map_create(&MapCreate {
        map_type: bpf_map_type::BPF_MAP_TYPE_ARRAY as u32,
        name: MANIFEST_MAP_NAME,
        key_size: 4,
        value_size: json.len() as u32,
        max_entries: 1,
        ..MapCreate::default()
    })
    .map_err(PinError::WriteManifest)?;
    sys::map_update(map.as_fd(), &0u32.to_ne_bytes(), &json, 0).map_err(PinError::WriteManifest)?;
    sys::map_freeze(map.as_fd()).map_err(PinError::WriteManifest)?;
    sys::obj_pin(map.as_fd(), path).map_err(PinError::WriteManifest)
}

/// The manifest of a directory made by [`pin`]; a directory without one is
/// [`PinError::NoManifest`].
pub fn read_manifest(dir: &Path) -> Result<Manifest, PinError> {
    let bad = |reason: String| PinError::BadManifest {
        dir: dir.to_path_buf(),
        reason,
    };
    let fd = match sys::obj_get(&dir.join(MANIFEST)) {
        Ok(fd) => fd,
        Err(e) if e.error.raw_os_error() == Some(libc::ENOENT) => {
            return Err(PinError::NoManifest(dir.to_path_buf()))
        }
        Err(e) => return Err(bad(e.to_string())),
    };
    if !matches!(describe_fd(fd.as_fd()), Some((ObjectKind::Map, _))) {
        return Err(PinError::NoManifest(dir.to_path_buf()));
    }
    let info = sys::map_info(fd.as_fd()).map_err(|e| bad(e.to_string()))?;
    let name: Vec<u8> = info
        .name
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    if name != MANIFEST_MAP_NAME.as_bytes()
        || info.type_ != bpf_map_type::BPF_MAP_TYPE_ARRAY as u32
        || info.key_size != 4
    {
        return Err(PinError::NoManifest(dir.to_path_buf()));
    }
    let mut json = vec![0u8; info.value_size as usize];
    sys::map_lookup(fd.as_fd(), &0u32.to_ne_bytes(), &mut json).map_err(|e| bad(e.to_string()))?;
    let manifest: Manifest = serde_json::from_slice(&json).map_err(|e| bad(e.to_string()))?;
    // Unloading unlinks these paths: none may lead out of the directory.
    if let Some(pin) = manifest.pins.iter().find(|pin| !inside(&pin.path)) {
        return Err(bad(format!(
            "pin path {} leaves the directory",
            pin.path.display()
        )));
    }
    Ok(manifest)
}

fn inside(path: &Path) -> bool {
    path.components().count() > 0 && path.components().all(|c| matches!(c, Component::Normal(_)))
}

/// What [`unload`] removed.
#[derive(Debug, Clone)]
pub struct Unloaded {
    pub manifest: Manifest,
    /// Pins the manifest lists that were already gone.
    pub missing: Vec<PathBuf>,
}

/// Removes exactly the pins `dir`'s manifest lists (links first, so programs detach, then
/// programs, then maps), then the manifest and the directory.
pub fn unload(dir: &Path) -> Result<Unloaded, PinError> {
    if !on_bpffs(dir)? {
        return Err(InspectError::NotBpffs(dir.to_path_buf()).into());
    }
    let mut manifest = read_manifest(dir)?;
    manifest.pins.sort_by_key(|pin| pin.kind);
    let mut missing = Vec::new();
    for pin in &manifest.pins {
        let path = dir.join(&pin.path);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => missing.push(pin.path.clone()),
            Err(source) => return Err(PinError::Io { path, source }),
        }
    }
    let manifest_path = dir.join(MANIFEST);
    std::fs::remove_file(&manifest_path).map_err(|source| PinError::Io {
        path: manifest_path,
        source,
    })?;
    for sub in [LINKS, PROGRAMS, MAPS] {
        remove_dir(dir, &dir.join(sub))?;
    }
    remove_dir(dir, dir)?;
    Ok(Unloaded { manifest, missing })
}

/// Removes an emptied directory; one still holding something was not ours to empty.
fn remove_dir(root: &Path, path: &Path) -> Result<(), PinError> {
    match std::fs::remove_dir(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::DirectoryNotEmpty => Err(PinError::Leftover {
            dir: root.to_path_buf(),
            names: std::fs::read_dir(path)
                .into_iter()
                .flatten()
                .flatten()
                .map(|entry| entry.path().display().to_string())
                .collect(),
        }),
        Err(source) => Err(PinError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// A pin on bpffs, and the directory whose manifest lists it, if one does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListedPin {
    #[serde(flatten)]
    pub pin: PinInfo,
    /// The `load --pin` directory it belongs to.
    pub loaded_into: Option<PathBuf>,
}

/// Every pin under `root`, each marked with the bpfhook directory it belongs to.
pub fn list(root: &Path) -> Result<Vec<ListedPin>, PinError> {
    let found = pins::list(root)?;
    let mut seen_dirs: HashSet<PathBuf> = HashSet::new();
    let mut owner_of = std::collections::HashMap::new();
    for pin in &found {
        let Some(dir) = pin.path.parent() else {
            continue;
        };
        if pin.path.file_name() != Some(MANIFEST.as_ref()) || !seen_dirs.insert(dir.to_path_buf()) {
            continue;
        }
        if let Ok(manifest) = read_manifest(dir) {
            owner_of.insert(pin.path.clone(), dir.to_path_buf());
            for listed in manifest.pins {
                owner_of.insert(dir.join(listed.path), dir.to_path_buf());
            }
        }
    }
    Ok(found
        .into_iter()
        .map(|pin| ListedPin {
            loaded_into: owner_of.get(&pin.path).cloned(),
            pin,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_names_have_no_dots() {
        assert_eq!(pin_name(".rodata.str1.1"), "_rodata_str1_1");
        assert_eq!(pin_name("counts"), "counts");
    }

    #[test]
    fn manifest_paths_must_stay_inside_the_directory() {
        assert!(inside(Path::new("links/hello")));
        assert!(!inside(Path::new("../etc/passwd")));
        assert!(!inside(Path::new("/sys/fs/bpf/other")));
        assert!(!inside(Path::new("maps/../../x")));
        assert!(!inside(Path::new("")));
    }

    #[test]
    fn manifests_round_trip_through_json() {
        let manifest = Manifest {
            object: PathBuf::from("/x/prog.bpf.o"),
            pins: vec![Pin {
                path: PathBuf::from("links/prog"),
                kind: PinKind::Link,
                id: 7,
                name: "prog".to_owned(),
                hook: Some("xdp:eth0".to_owned()),
            }],
        };
        let json = serde_json::to_string(&manifest).expect("serialises");
        assert!(json.contains(r#""kind":"link""#), "{json}");
        let back: Manifest = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, manifest);
    }
}

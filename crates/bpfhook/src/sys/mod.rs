//! The one place bpfhook calls the `bpf(2)` syscall: loading objects (`load`), attaching
//! programs (`link`), byte-level map access (any key/value size), opening pins and test runs,
//! and inspecting loaded objects (ids, info, pins, run-time statistics).

mod link;
mod load;
pub mod netlink;

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;

use aya_obj::generated::{bpf_attr, bpf_cmd};

pub use link::{
    iter_create, link_create, perf_event_open, perf_event_set_bpf, prog_attach,
    raw_tracepoint_open, uprobe_multi_link, LinkTarget,
};
pub use load::{btf_load, map_create, map_freeze, prog_load, MapCreate, ProgramLoad};

/// A failed bpf(2) call: which command, and the kernel's errno.
#[derive(Debug, thiserror::Error)]
#[error("bpf({call}): {error}")]
pub struct SyscallError {
    pub call: &'static str,
    #[source]
    pub error: io::Error,
}

fn bpf(cmd: bpf_cmd, attr: &mut bpf_attr, call: &'static str) -> Result<i64, SyscallError> {
    // SAFETY: `attr` is a valid, fully initialised bpf_attr and its size is passed along.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd as libc::c_long,
            attr as *mut bpf_attr,
            std::mem::size_of::<bpf_attr>(),
        )
    };
    if ret < 0 {
        Err(SyscallError {
            call,
            error: io::Error::last_os_error(),
        })
    } else {
        Ok(ret)
    }
}

/// Takes ownership of the fd a successful call returned.
///
/// # Safety
/// `fd` must be a new file descriptor that nothing else owns.
unsafe fn owned_fd(fd: i64) -> OwnedFd {
    // SAFETY: the caller's guarantee; fds fit in an i32.
    unsafe { OwnedFd::from_raw_fd(fd as i32) }
}

fn zeroed_attr() -> bpf_attr {
    // SAFETY: bpf_attr is a plain C union; all-zero is its documented "unset" value.
    unsafe { std::mem::zeroed() }
}

/// `BPF_MAP_GET_NEXT_KEY`: the key after `key` (the first key when `key` is None), or None at the end.
pub fn map_next_key(
    map: BorrowedFd<'_>,
    key: Option<&[u8]>,
    next: &mut [u8],
) -> Result<bool, SyscallError> {
    let mut attr = zeroed_attr();
    // SAFETY: writing plain integer fields of the map_elem member of the union.
    unsafe {
        let elem = &mut attr.__bindgen_anon_2;
        elem.map_fd = map.as_raw_fd() as u32;
        elem.key = key.map_or(0, |k| k.as_ptr() as u64);
        elem.__bindgen_anon_1.next_key = next.as_mut_ptr() as u64;
    }
    match bpf(
        bpf_cmd::BPF_MAP_GET_NEXT_KEY,
        &mut attr,
        "BPF_MAP_GET_NEXT_KEY",
    ) {
        Ok(_) => Ok(true),
        Err(e) if e.error.raw_os_error() == Some(libc::ENOENT) => Ok(false),
        Err(e) => Err(e),
    }
}

/// `BPF_MAP_LOOKUP_ELEM` into `value` (sized for per-CPU maps by the caller); false if absent.
pub fn map_lookup(map: BorrowedFd<'_>, key: &[u8], value: &mut [u8]) -> Result<bool, SyscallError> {
    let mut attr = zeroed_attr();
    // SAFETY: as above.
    unsafe {
        let elem = &mut attr.__bindgen_anon_2;
        elem.map_fd = map.as_raw_fd() as u32;
        elem.key = key.as_ptr() as u64;
        elem.__bindgen_anon_1.value = value.as_mut_ptr() as u64;
    }
    match bpf(
        bpf_cmd::BPF_MAP_LOOKUP_ELEM,
        &mut attr,
        "BPF_MAP_LOOKUP_ELEM",
    ) {
        Ok(_) => Ok(true),
        Err(e) if e.error.raw_os_error() == Some(libc::ENOENT) => Ok(false),
        Err(e) => Err(e),
    }
}

/// One `BPF_MAP_LOOKUP_BATCH` call: up to `count` entries after the cursor `in_batch` (None:
/// from the start) into `keys`/`values` (sized for `count`), the next cursor in `out_batch`.
/// Returns how many entries came and whether the map has more.
pub fn map_lookup_batch(
    map: BorrowedFd<'_>,
    in_batch: Option<&[u8]>,
    out_batch: &mut [u8],
    keys: &mut [u8],
    values: &mut [u8],
    count: u32,
) -> Result<(u32, bool), SyscallError> {
    let mut attr = zeroed_attr();
    // SAFETY: writing plain integer fields of the batch member of the union; the buffers
    // outlive the call and the caller sized them for `count` entries.
    unsafe {
        let batch = &mut attr.batch;
        batch.map_fd = map.as_raw_fd() as u32;
        batch.in_batch = in_batch.map_or(0, |b| b.as_ptr() as u64);
        batch.out_batch = out_batch.as_mut_ptr() as u64;
        batch.keys = keys.as_mut_ptr() as u64;
        batch.values = values.as_mut_ptr() as u64;
        batch.count = count;
    }
    let result = bpf(
        bpf_cmd::BPF_MAP_LOOKUP_BATCH,
        &mut attr,
        "BPF_MAP_LOOKUP_BATCH",
    );
    // SAFETY: the kernel wrote back the count of entries copied (also on ENOENT).
    let copied = unsafe { attr.batch.count };
    match result {
        Ok(_) => Ok((copied, true)),
        // ENOENT: the end of the map; this call's entries are still valid.
        Err(e) if e.error.raw_os_error() == Some(libc::ENOENT) => Ok((copied, false)),
        Err(e) => Err(e),
    }
}

/// `BPF_OBJ_GET`: opens a pinned program, map or link.
pub fn obj_get(path: &Path) -> Result<OwnedFd, SyscallError> {
    let path =
        std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| SyscallError {
            call: "BPF_OBJ_GET",
            error: io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"),
        })?;
    let mut attr = zeroed_attr();
    // `path` outlives the call.
    attr.__bindgen_anon_4.pathname = path.as_ptr() as u64;
    let fd = bpf(bpf_cmd::BPF_OBJ_GET, &mut attr, "BPF_OBJ_GET")?;
    // SAFETY: on success BPF_OBJ_GET returns a new file descriptor that we now own.
    Ok(unsafe { owned_fd(fd) })
}

/// `BPF_PROG_TEST_RUN` once on `data`; returns the program's return value.
pub fn prog_test_run(program: BorrowedFd<'_>, data: &[u8]) -> Result<u32, SyscallError> {
    prog_test_run_repeat(program, data, 1).map(|run| run.retval)
}

/// What a repeated test run reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestRun {
    /// The last run's return value.
    pub retval: u32,
    /// Average nanoseconds per run, as the kernel measured it.
    pub duration_ns: u32,
}

/// `BPF_PROG_TEST_RUN` `repeat` times on `data` (program types that take a packet: XDP,
/// socket filters, TC).
pub fn prog_test_run_repeat(
    program: BorrowedFd<'_>,
    data: &[u8],
    repeat: u32,
) -> Result<TestRun, SyscallError> {
    let mut attr = zeroed_attr();
    // `data` outlives the call.
    attr.test.prog_fd = program.as_raw_fd() as u32;
    attr.test.data_in = data.as_ptr() as u64;
    attr.test.data_size_in = data.len() as u32;
    attr.test.repeat = repeat;
    bpf(bpf_cmd::BPF_PROG_TEST_RUN, &mut attr, "BPF_PROG_TEST_RUN")?;
    // SAFETY: the kernel filled in retval and duration.
    Ok(unsafe {
        TestRun {
            retval: attr.test.retval,
            duration_ns: attr.test.duration,
        }
    })
}

/// `BPF_PROG_TEST_RUN` of a raw tracepoint program with an empty context: runs it once, now,
/// on this CPU and in this task (raw tracepoint test runs take no data and no repeat count).
pub fn prog_run_once(program: BorrowedFd<'_>) -> Result<u32, SyscallError> {
    let mut attr = zeroed_attr();
    attr.test.prog_fd = program.as_raw_fd() as u32;
    bpf(bpf_cmd::BPF_PROG_TEST_RUN, &mut attr, "BPF_PROG_TEST_RUN")?;
    // SAFETY: the kernel filled in retval.
    Ok(unsafe { attr.test.retval })
}

// ---- Inspecting what the kernel holds: ids, fds by id, object info, pins, stats. ----
pub use aya_obj::generated::{bpf_btf_info, bpf_link_info, bpf_map_info, bpf_prog_info};

/// The kinds of kernel object that have ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    Program,
    Map,
    Link,
    Btf,
}

impl ObjectKind {
    fn next_id_cmd(self) -> (bpf_cmd, &'static str) {
        match self {
            Self::Program => (bpf_cmd::BPF_PROG_GET_NEXT_ID, "BPF_PROG_GET_NEXT_ID"),
            Self::Map => (bpf_cmd::BPF_MAP_GET_NEXT_ID, "BPF_MAP_GET_NEXT_ID"),
            Self::Link => (bpf_cmd::BPF_LINK_GET_NEXT_ID, "BPF_LINK_GET_NEXT_ID"),
            Self::Btf => (bpf_cmd::BPF_BTF_GET_NEXT_ID, "BPF_BTF_GET_NEXT_ID"),
        }
    }

    fn fd_by_id_cmd(self) -> (bpf_cmd, &'static str) {
        match self {
            Self::Program => (bpf_cmd::BPF_PROG_GET_FD_BY_ID, "BPF_PROG_GET_FD_BY_ID"),
            Self::Map => (bpf_cmd::BPF_MAP_GET_FD_BY_ID, "BPF_MAP_GET_FD_BY_ID"),
            Self::Link => (bpf_cmd::BPF_LINK_GET_FD_BY_ID, "BPF_LINK_GET_FD_BY_ID"),
            Self::Btf => (bpf_cmd::BPF_BTF_GET_FD_BY_ID, "BPF_BTF_GET_FD_BY_ID"),
        }
    }
}

/// `BPF_*_GET_NEXT_ID`: the lowest id above `start` (0 for the first), or None at the end.
pub fn next_id(kind: ObjectKind, start: u32) -> Result<Option<u32>, SyscallError> {
    let (cmd, call) = kind.next_id_cmd();
    let mut attr = zeroed_attr();
    attr.__bindgen_anon_6.__bindgen_anon_1.start_id = start;
    match bpf(cmd, &mut attr, call) {
        // SAFETY: the kernel filled in next_id.
        Ok(_) => Ok(Some(unsafe { attr.__bindgen_anon_6.next_id })),
        Err(e) if e.error.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `BPF_*_GET_FD_BY_ID`: a new fd for the object with this id (ENOENT if there is none).
pub fn fd_by_id(kind: ObjectKind, id: u32) -> Result<OwnedFd, SyscallError> {
    let (cmd, call) = kind.fd_by_id_cmd();
    let mut attr = zeroed_attr();
    attr.__bindgen_anon_6.__bindgen_anon_1.prog_id = id;
    let fd = bpf(cmd, &mut attr, call)?;
    // SAFETY: on success the command returns a new file descriptor that we now own.
    Ok(unsafe { owned_fd(fd) })
}

/// `BPF_OBJ_GET_INFO_BY_FD` into `info`, whose pointer fields the caller has pointed at buffers
/// that outlive the call (or left zero).
///
/// # Safety
/// `T` must be the info struct the kernel writes for this kind of fd (`bpf_prog_info`,
/// `bpf_map_info`, `bpf_link_info`, `bpf_btf_info`), and every non-zero pointer in it must
/// point at writable memory of the length given next to it.
unsafe fn obj_info<T>(fd: BorrowedFd<'_>, info: &mut T) -> Result<(), SyscallError> {
    let mut attr = zeroed_attr();
    attr.info.bpf_fd = fd.as_raw_fd() as u32;
    attr.info.info_len = std::mem::size_of::<T>() as u32;
    attr.info.info = info as *mut T as u64;
    bpf(
        bpf_cmd::BPF_OBJ_GET_INFO_BY_FD,
        &mut attr,
        "BPF_OBJ_GET_INFO_BY_FD",
    )?;
    Ok(())
}

/// A program's info; `map_ids` and `xlated` receive as many map ids / translated instruction
/// bytes as fit (the info's `nr_map_ids` / `xlated_prog_len` say how many there are).
pub fn prog_info(
    fd: BorrowedFd<'_>,
    map_ids: &mut [u32],
    xlated: &mut [u8],
) -> Result<bpf_prog_info, SyscallError> {
    // SAFETY: bpf_prog_info is plain data; all-zero means "no buffers".
    let mut info: bpf_prog_info = unsafe { std::mem::zeroed() };
    if !map_ids.is_empty() {
        info.nr_map_ids = map_ids.len() as u32;
        info.map_ids = map_ids.as_mut_ptr() as u64;
    }
    if !xlated.is_empty() {
        info.xlated_prog_len = xlated.len() as u32;
        info.xlated_prog_insns = xlated.as_mut_ptr() as u64;
    }
    // SAFETY: a program fd gets bpf_prog_info; both buffers outlive the call with the lengths given.
    unsafe { obj_info(fd, &mut info)? };
    Ok(info)
}

/// A map's info.
pub fn map_info(fd: BorrowedFd<'_>) -> Result<bpf_map_info, SyscallError> {
    // SAFETY: bpf_map_info is plain data without pointers.
    let mut info: bpf_map_info = unsafe { std::mem::zeroed() };
    // SAFETY: a map fd gets bpf_map_info, which has no pointer fields.
    unsafe { obj_info(fd, &mut info)? };
    Ok(info)
}

/// A BTF object's info; `data` receives as much of the raw BTF as fits (`btf_size` is the total).
pub fn btf_info(fd: BorrowedFd<'_>, data: &mut [u8]) -> Result<bpf_btf_info, SyscallError> {
    // SAFETY: bpf_btf_info is plain data; all-zero means "no buffers".
    let mut info: bpf_btf_info = unsafe { std::mem::zeroed() };
    if !data.is_empty() {
        info.btf = data.as_mut_ptr() as u64;
        info.btf_size = data.len() as u32;
    }
    // SAFETY: a BTF fd gets bpf_btf_info; `data` outlives the call with the length given.
    unsafe { obj_info(fd, &mut info)? };
    Ok(info)
}

/// Which string a link's info can carry, chosen from its type (the info is a union).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkName {
    None,
    /// raw_tracepoint links: the tracepoint name.
    RawTracepoint,
    /// perf_event links to a kprobe, uprobe or tracepoint: function, file or tracepoint name.
    PerfEvent,
}

/// A link's info; with `name` set, the string of that kind is copied into `buffer`.
pub fn link_info(
    fd: BorrowedFd<'_>,
    name: LinkName,
    buffer: &mut [u8],
) -> Result<bpf_link_info, SyscallError> {
    // SAFETY: bpf_link_info is plain data; all-zero means "no buffers".
    let mut info: bpf_link_info = unsafe { std::mem::zeroed() };
    let (ptr, len) = (buffer.as_mut_ptr() as u64, buffer.len() as u32);
    match name {
        LinkName::None => {}
        LinkName::RawTracepoint => {
            info.__bindgen_anon_1.raw_tracepoint.tp_name = ptr;
            info.__bindgen_anon_1.raw_tracepoint.tp_name_len = len;
        }
        LinkName::PerfEvent => {
            // The uprobe, kprobe and tracepoint members keep their name pointer and length at
            // the same offsets, so setting the tracepoint one serves all three.
            info.__bindgen_anon_1
                .perf_event
                .__bindgen_anon_1
                .tracepoint
                .tp_name = ptr;
            info.__bindgen_anon_1
                .perf_event
                .__bindgen_anon_1
                .tracepoint
                .name_len = len;
        }
    }
    // SAFETY: a link fd gets bpf_link_info; `buffer` outlives the call with the length given.
    unsafe { obj_info(fd, &mut info)? };
    Ok(info)
}

/// `BPF_MAP_UPDATE_ELEM` with `flags` (0 = BPF_ANY).
pub fn map_update(
    map: BorrowedFd<'_>,
    key: &[u8],
    value: &[u8],
    flags: u64,
) -> Result<(), SyscallError> {
    let mut attr = zeroed_attr();
    // SAFETY: writing plain integer fields of the map_elem member; the buffers outlive the call.
    unsafe {
        let elem = &mut attr.__bindgen_anon_2;
        elem.map_fd = map.as_raw_fd() as u32;
        elem.key = key.as_ptr() as u64;
        elem.__bindgen_anon_1.value = value.as_ptr() as u64;
        elem.flags = flags;
    }
    bpf(
        bpf_cmd::BPF_MAP_UPDATE_ELEM,
        &mut attr,
        "BPF_MAP_UPDATE_ELEM",
    )?;
    Ok(())
}

/// `BPF_MAP_DELETE_ELEM`; false if the key was absent.
pub fn map_delete(map: BorrowedFd<'_>, key: &[u8]) -> Result<bool, SyscallError> {
    let mut attr = zeroed_attr();
    // SAFETY: as above.
    unsafe {
        let elem = &mut attr.__bindgen_anon_2;
        elem.map_fd = map.as_raw_fd() as u32;
        elem.key = key.as_ptr() as u64;
    }
    match bpf(
        bpf_cmd::BPF_MAP_DELETE_ELEM,
        &mut attr,
        "BPF_MAP_DELETE_ELEM",
    ) {
        Ok(_) => Ok(true),
        Err(e) if e.error.raw_os_error() == Some(libc::ENOENT) => Ok(false),
        Err(e) => Err(e),
    }
}

/// `BPF_OBJ_PIN`: pins a program, map or link fd at `path` on a bpffs.
pub fn obj_pin(fd: BorrowedFd<'_>, path: &Path) -> Result<(), SyscallError> {
    let path =
        std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| SyscallError {
            call: "BPF_OBJ_PIN",
            error: io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"),
        })?;
    let mut attr = zeroed_attr();
    // `path` outlives the call.
    attr.__bindgen_anon_4.pathname = path.as_ptr() as u64;
    attr.__bindgen_anon_4.bpf_fd = fd.as_raw_fd() as u32;
    bpf(bpf_cmd::BPF_OBJ_PIN, &mut attr, "BPF_OBJ_PIN")?;
    Ok(())
}

/// `BPF_ENABLE_STATS(BPF_STATS_RUN_TIME)`: run-time statistics stay on while the fd is open.
pub fn enable_run_time_stats() -> Result<OwnedFd, SyscallError> {
    let mut attr = zeroed_attr();
    attr.enable_stats.type_ = aya_obj::generated::bpf_stats_type::BPF_STATS_RUN_TIME as u32;
    let fd = bpf(bpf_cmd::BPF_ENABLE_STATS, &mut attr, "BPF_ENABLE_STATS")?;
    // SAFETY: on success BPF_ENABLE_STATS returns a new file descriptor that we now own.
    Ok(unsafe { owned_fd(fd) })
}

//! `_native.Program`: one loaded object whose programs attach and detach one at a time, as
//! BCC's API does (a `Manager` attaches a fixed set at once; here each `attach` call resolves
//! one hook with the library's `attach::resolve` and loads the program for it with
//! `attach::load_and_attach`, sharing the object's maps). Dropping it (or `close()`) detaches
//! everything, links first, then programs, then maps.

use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::time::Duration;

use bpfhook::attach::{self, AttachOptions, Attachment, PerfEventKind, PerfSampling};
use bpfhook::btf::Btf;
use bpfhook::events::{Event, EventLoop, EventOptions};
use bpfhook::hook::Hook;
use bpfhook::kernel::tracefs::PrintkReader;
use bpfhook::loader::LoadedObject;
use bpfhook::object::ObjectFile;
use bpfhook::sys;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::error::{error_chain, BpfError};
use crate::types;

/// Map types whose values are per CPU (a lookup returns one slot per possible CPU).
const PER_CPU_TYPES: &[u32] = &[5, 6, 10, 21];

/// A perf or ring buffer record (bytes) or a perf buffer's loss count, with map and CPU.
type RawRecord = (String, Option<u32>, Result<Vec<u8>, u64>);
/// One bpf_trace_printk line: (comm, pid, cpu, timestamp, message).
type TraceLine = (String, u32, u32, String, String);

/// Calls `attempt` with waits of at most 200 ms until it returns something or `timeout_ms`
/// (negative: forever) has passed; Python signals (Ctrl-C) are checked between the waits.
fn in_slices<T>(
    py: Python<'_>,
    timeout_ms: i64,
    mut attempt: impl FnMut(Python<'_>, i64) -> PyResult<Option<T>>,
) -> PyResult<Option<T>> {
    let mut waited = 0i64;
    loop {
        let slice = if timeout_ms < 0 {
            200
        } else {
            (timeout_ms - waited).clamp(0, 200)
        };
        if let Some(found) = attempt(py, slice)? {
            return Ok(Some(found));
        }
        py.check_signals()?;
        waited += slice;
        if timeout_ms >= 0 && waited >= timeout_ms {
            return Ok(None);
        }
    }
}

struct Attached {
    // Attachments before the program: detach, then close.
    attachments: Vec<Attachment>,
    _program: OwnedFd,
    /// A socket filter's packet socket (BCC's `fn.sock`): the attachment itself.
    socket: bool,
}

/// `unsendable`: the event readers hold raw ring mappings (not Sync); a BPF object stays on
/// the thread that made it.
#[pyclass(unsendable, module = "bpfhook._native")]
pub struct Program {
    // Drop order: readers, attachments, loaded-only programs, then the object and its maps.
    events: Option<EventLoop>,
    printk: Option<PrintkReader>,
    attached: HashMap<u64, Attached>,
    loaded: HashMap<String, OwnedFd>,
    object: Option<LoadedObject>,
    spec: ObjectFile,
    btf: Option<Btf>,
    /// The object's DWARF types, read on first need: clang leaves types used only by locals
    /// (most record structs) out of .BTF.
    dwarf: Option<Option<Btf>>,
    next_id: u64,
}

impl Program {
    fn object(&self) -> PyResult<&LoadedObject> {
        self.object
            .as_ref()
            .ok_or_else(|| BpfError::new_err("the BPF object was closed (cleanup() ran)"))
    }

    fn map_fd(&self, name: &str) -> PyResult<std::os::fd::BorrowedFd<'_>> {
        let map = self
            .object()?
            .map(name)
            .ok_or_else(|| pyo3::exceptions::PyKeyError::new_err(name.to_owned()))?;
        Ok(bpfhook::maps::fd(map))
    }

    fn map_layout(&self, name: &str) -> PyResult<(usize, usize, bool)> {
        let info =
            sys::map_info(self.map_fd(name)?).map_err(|e| BpfError::new_err(e.to_string()))?;
        Ok((
            info.key_size as usize,
            info.value_size as usize,
            PER_CPU_TYPES.contains(&info.type_),
        ))
    }
}

fn syscall_error(error: sys::SyscallError) -> PyErr {
    BpfError::new_err(error_chain(&error))
}

#[pymethods]
impl Program {
    /// Parses the object and creates its maps; no program is loaded yet.
    #[new]
    fn new(path: PathBuf) -> PyResult<Self> {
        let spec = ObjectFile::from_path(&path).map_err(|e| BpfError::new_err(error_chain(&e)))?;
        bpfhook::kernel::features::check_privileges()
            .map_err(|e| BpfError::new_err(error_chain(&e)))?;
        let object = LoadedObject::load(spec.loader_bytes()).map_err(|e| {
            BpfError::new_err(format!("loading {}: {}", path.display(), error_chain(&e)))
        })?;
        let btf = Btf::from_elf(spec.loader_bytes()).ok();
        Ok(Self {
            events: None,
            printk: None,
            attached: HashMap::new(),
            loaded: HashMap::new(),
            object: Some(object),
            spec,
            btf,
            dwarf: None,
            next_id: 1,
        })
    }

    /// Each program: (name, section, hook kind).
    fn programs(&self) -> Vec<(String, String, String)> {
        self.spec
            .programs()
            .iter()
            .map(|p| (p.name.clone(), p.section.clone(), p.hook.kind().to_owned()))
            .collect()
    }

    /// Attaches `program` to the hook a section name describes (`kprobe/FN`,
    /// `tracepoint/CAT/NAME`, `uprobe/PATH:SYM`, `perf_event`, `xdp`…); returns an id for
    /// `detach`. The target is checked first (a missing function, tracepoint, binary or
    /// kernel feature is an error before the kernel sees the program).
    #[pyo3(signature = (program, section, pid=None, iface=None, perf_event=None, sample_period=None, sample_freq=None, xdp_mode=None))]
    #[allow(clippy::too_many_arguments)]
    fn attach(
        &mut self,
        program: &str,
        section: &str,
        pid: Option<u32>,
        iface: Option<String>,
        perf_event: Option<&str>,
        sample_period: Option<u64>,
        sample_freq: Option<u64>,
        xdp_mode: Option<&str>,
    ) -> PyResult<u64> {
        if self.spec.program(program).is_none() {
            return Err(BpfError::new_err(format!(
                "no program named `{program}` in the object"
            )));
        }
        let hook = Hook::from_section(section).map_err(|e| BpfError::new_err(e.to_string()))?;
        let mut options = AttachOptions {
            pid,
            iface,
            ..AttachOptions::default()
        };
        if let Some(event) = perf_event {
            options.perf_event = PerfEventKind::parse(event)
                .ok_or_else(|| BpfError::new_err(format!("unknown perf event `{event}`")))?;
        }
        if let Some(mode) = xdp_mode {
            options.xdp_mode = attach::XdpMode::parse(mode)
                .ok_or_else(|| BpfError::new_err(format!("unknown XDP mode `{mode}`")))?;
        }
        if let Some(period) = sample_period {
            options.sampling = PerfSampling::Period(period);
        } else if let Some(freq) = sample_freq {
            options.sampling = PerfSampling::Frequency(freq);
        }
        let fail = |e: &dyn std::error::Error| {
            BpfError::new_err(format!("{program} ({hook}): {}", error_chain(e)))
        };
        let target = attach::resolve(&hook, &options).map_err(|e| fail(&e))?;
        let socket = matches!(target, attach::Target::SocketFilter { .. });
        let done =
            attach::load_and_attach(self.object()?, program, &target).map_err(|e| fail(&e))?;
        let id = self.next_id;
        self.next_id += 1;
        self.attached.insert(
            id,
            Attached {
                attachments: done.attachments,
                _program: done.program,
                socket,
            },
        );
        Ok(id)
    }

    /// The packet socket a socket filter attached as `id` reads from (BCC's `fn.sock`), as a
    /// descriptor the attachment keeps open: Python's `socket.fromfd` takes its own copy.
    fn socket_of(&self, id: u64) -> Option<i32> {
        let attached = self.attached.get(&id).filter(|a| a.socket)?;
        attached.attachments.iter().find_map(|a| match a {
            Attachment::Fd(fd) => Some(fd.as_raw_fd()),
            _ => None,
        })
    }

    /// Detaches what `attach` returned `id` for; false if it was not attached.
    fn detach(&mut self, id: u64) -> bool {
        self.attached.remove(&id).is_some()
    }

    /// Loads a program without attaching it (BCC's load_func) and returns its fd, which
    /// stays open as long as this object.
    fn load(&mut self, program: &str) -> PyResult<i32> {
        if let Some(fd) = self.loaded.get(program) {
            return Ok(fd.as_raw_fd());
        }
        let fd = self
            .object()?
            .load_program(program, bpfhook::loader::LoadFor::Section)
            .map_err(|e| {
                BpfError::new_err(format!(
                    "{program}: {}",
                    error_chain(&attach::AttachError::from_load(e))
                ))
            })?;
        let raw = fd.as_raw_fd();
        self.loaded.insert(program.to_owned(), fd);
        Ok(raw)
    }

    /// Every map: name → (kernel type number, key size, value size, max entries).
    fn maps(&self) -> PyResult<HashMap<String, (u32, u32, u32, u32)>> {
        let mut out = HashMap::new();
        for (name, map) in self.object()?.maps() {
            let info = sys::map_info(bpfhook::maps::fd(map)).map_err(syscall_error)?;
            out.insert(
                name.to_owned(),
                (info.type_, info.key_size, info.value_size, info.max_entries),
            );
        }
        Ok(out)
    }

    /// The key and value types of a map as JSON descriptions (see types.rs), None where the
    /// object's BTF does not say.
    fn map_types(&self, name: &str) -> (Option<String>, Option<String>) {
        match &self.btf {
            Some(btf) => {
                let (key, value) = types::map_types(btf, name);
                (key.map(|k| k.to_string()), value.map(|v| v.to_string()))
            }
            None => (None, None),
        }
    }

    /// A struct of the object's BTF (else its DWARF) as a JSON description.
    fn struct_type(&mut self, name: &str) -> Option<String> {
        if let Some(found) = self.btf.as_ref().and_then(|b| types::named_struct(b, name)) {
            return Some(found.to_string());
        }
        let spec = &self.spec;
        let dwarf = self.dwarf.get_or_insert_with(|| {
            bpfhook::dwarf::types_from_elf(spec.loader_bytes())
                .ok()
                .flatten()
        });
        types::named_struct(dwarf.as_ref()?, name).map(|v| v.to_string())
    }

    /// How many value slots a lookup returns (possible CPUs for per-CPU maps, else 1) and
    /// the bytes per slot.
    fn value_slots(&self, name: &str) -> PyResult<(usize, usize)> {
        let (_, value_size, per_cpu) = self.map_layout(name)?;
        let cpus = if per_cpu {
            aya::util::nr_cpus().unwrap_or(1).max(1)
        } else {
            1
        };
        Ok((cpus, bpfhook::maps::value_slot(value_size, per_cpu)))
    }

    fn map_keys<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Vec<Bound<'py, PyBytes>>> {
        let (key_size, _, _) = self.map_layout(name)?;
        let keys = bpfhook::maps::keys(self.map_fd(name)?, key_size).map_err(syscall_error)?;
        Ok(keys.iter().map(|k| PyBytes::new(py, k)).collect())
    }

    /// The value under `key` (all CPUs' slots for per-CPU maps), None if absent.
    fn map_lookup<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        key: &[u8],
    ) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let (cpus, slot) = self.value_slots(name)?;
        let mut value = vec![0u8; cpus * slot];
        let found = sys::map_lookup(self.map_fd(name)?, key, &mut value).map_err(syscall_error)?;
        Ok(found.then(|| PyBytes::new(py, &value)))
    }

    #[pyo3(signature = (name, key, value, flags=0))]
    fn map_update(&self, name: &str, key: &[u8], value: &[u8], flags: u64) -> PyResult<()> {
        sys::map_update(self.map_fd(name)?, key, value, flags).map_err(syscall_error)
    }

    fn map_delete(&self, name: &str, key: &[u8]) -> PyResult<bool> {
        sys::map_delete(self.map_fd(name)?, key).map_err(syscall_error)
    }

    /// Opens readers on every perf and ring buffer of the object now (a perf buffer drops
    /// what is written before its reader exists), `perf_pages` data pages per CPU for perf
    /// buffers (a power of two; the library's default otherwise). Later calls reuse them.
    #[pyo3(signature = (perf_pages=None))]
    fn open_records(&mut self, perf_pages: Option<usize>) -> PyResult<()> {
        if self.events.is_none() {
            let mut options = EventOptions {
                printk: false,
                ..EventOptions::default()
            };
            if let Some(pages) = perf_pages {
                if !pages.is_power_of_two() {
                    return Err(BpfError::new_err(format!(
                        "page_cnt must be a power of two, not {pages}"
                    )));
                }
                options.perf_pages = pages;
            }
            let events = EventLoop::new(&options, self.object()?.maps())
                .map_err(|e| BpfError::new_err(error_chain(&e)))?;
            self.events = Some(events);
        }
        Ok(())
    }

    /// Waits up to `timeout_ms` (negative: forever) for records on the object's perf and ring
    /// buffers: a list of (map, cpu or None, bytes) and, for perf buffers' losses,
    /// (map, cpu, lost count as int).
    fn poll_records(&mut self, py: Python<'_>, timeout_ms: i64) -> PyResult<Vec<Py<PyAny>>> {
        self.open_records(None)?;
        let Some(events) = self.events.as_mut() else {
            return Ok(Vec::new());
        };
        let records = in_slices(py, timeout_ms, |py, slice| {
            let records = py
                .detach(|| {
                    let mut records: Vec<RawRecord> = Vec::new();
                    events
                        .poll(Duration::from_millis(slice as u64), |event| match event {
                            Event::Record { map, cpu, data } => {
                                records.push((map.to_owned(), cpu, Ok(data.to_vec())))
                            }
                            Event::Lost { map, cpu, count } => {
                                records.push((map.to_owned(), Some(cpu), Err(count)))
                            }
                            Event::Printk(_) => {}
                        })
                        .map(|_| records)
                })
                .map_err(|e| BpfError::new_err(error_chain(&e)))?;
            Ok((!records.is_empty()).then_some(records))
        })?
        .unwrap_or_default();
        let mut out: Vec<Py<PyAny>> = Vec::with_capacity(records.len());
        for (map, cpu, data) in records {
            let item = match data {
                Ok(bytes) => (map, cpu, PyBytes::new(py, &bytes))
                    .into_pyobject(py)?
                    .into_any()
                    .unbind(),
                Err(count) => (map, cpu, count).into_pyobject(py)?.into_any().unbind(),
            };
            out.push(item);
        }
        Ok(out)
    }

    /// Opens the private trace instance now, so lines printed from here on are kept for
    /// `read_trace` (BCC reads the global trace_pipe, which holds them too).
    fn open_trace(&mut self) -> PyResult<()> {
        if self.printk.is_none() {
            self.printk =
                Some(PrintkReader::new().map_err(|e| BpfError::new_err(error_chain(&e)))?);
        }
        Ok(())
    }

    /// Lines of bpf_trace_printk output from a private trace instance, waiting up to
    /// `timeout_ms` (negative: forever) for the first: (comm, pid, cpu, timestamp, message).
    fn read_trace(&mut self, py: Python<'_>, timeout_ms: i64) -> PyResult<Vec<TraceLine>> {
        self.open_trace()?;
        let Some(reader) = self.printk.as_mut() else {
            return Ok(Vec::new());
        };
        let drain = |reader: &mut PrintkReader| {
            let mut lines = Vec::new();
            reader
                .drain(|line| {
                    lines.push((line.comm, line.pid, line.cpu, line.timestamp, line.message))
                })
                .map_err(|e| BpfError::new_err(error_chain(&e)))?;
            Ok::<_, PyErr>(lines)
        };
        let lines = drain(reader)?;
        if !lines.is_empty() {
            return Ok(lines);
        }
        let Some(fd) = reader.fd().map(|fd| fd.as_raw_fd()) else {
            return Ok(lines);
        };
        let lines = in_slices(py, timeout_ms, |py, slice| {
            py.detach(|| {
                let mut poll = libc::pollfd {
                    fd,
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one valid pollfd for the duration of the call.
                unsafe { libc::poll(&mut poll, 1, slice as i32) };
            });
            let lines = drain(reader)?;
            Ok((!lines.is_empty()).then_some(lines))
        })?;
        Ok(lines.unwrap_or_default())
    }

    /// Detaches and unloads everything; the object cannot be used afterwards.
    fn close(&mut self) {
        self.events = None;
        self.printk = None;
        self.attached.clear();
        self.loaded.clear();
        self.object = None;
    }

    /// The fd of a map, for callers that pass it on (BCC's `get_fd`).
    fn map_fd_number(&self, name: &str) -> PyResult<i32> {
        Ok(self.map_fd(name)?.as_fd().as_raw_fd())
    }
}

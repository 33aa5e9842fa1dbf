"""BCC's Python API on bpfhook: `from bpfhook.bcc import BPF` in place of `from bcc import BPF`.

The C text is BCC's dialect; the native module rewrites it to libbpf C (see python/README.md
for exactly what is rewritten), compiles it with clang against the running kernel's
vmlinux.h, and loads it. Programs attach one call at a time; everything detaches on
cleanup(), at the end of a `with` block, when the object is collected, or at exit.
"""

import atexit
import ctypes as ct
import os
import re
import sys
import weakref

from .. import _native
from .._ctypes import ctype_of
from .._native import BpfError
from .table import make_table

__all__ = ["BPF", "BpfError", "PerfType", "PerfSWConfig", "PerfHWConfig", "printb"]


class PerfType:
    HARDWARE = 0
    SOFTWARE = 1


class PerfHWConfig:
    CPU_CYCLES = 0
    INSTRUCTIONS = 1
    CACHE_REFERENCES = 2
    CACHE_MISSES = 3
    BRANCH_INSTRUCTIONS = 4
    BRANCH_MISSES = 5
    BUS_CYCLES = 6
    STALLED_CYCLES_FRONTEND = 7
    STALLED_CYCLES_BACKEND = 8
    REF_CPU_CYCLES = 9


class PerfSWConfig:
    CPU_CLOCK = 0
    TASK_CLOCK = 1
    PAGE_FAULTS = 2
    CONTEXT_SWITCHES = 3
    CPU_MIGRATIONS = 4
    PAGE_FAULTS_MIN = 5
    PAGE_FAULTS_MAJ = 6
    ALIGNMENT_FAULTS = 7
    EMULATION_FAULTS = 8
    DUMMY = 9
    BPF_OUTPUT = 10


_SOFTWARE_EVENTS = ["cpu-clock", "task-clock", "page-faults", "context-switches",
                    "cpu-migrations", "minor-faults", "major-faults", "alignment-faults",
                    "emulation-faults", "dummy", "bpf-output"]
_HARDWARE_EVENTS = ["cpu-cycles", "instructions", "cache-references", "cache-misses",
                    "branch-instructions", "branch-misses", "bus-cycles",
                    "stalled-cycles-frontend", "stalled-cycles-backend", "ref-cycles"]


def _s(value):
    """BCC takes bytes or str; we work in str."""
    if isinstance(value, bytes):
        return value.decode()
    return value


def printb(text, file=sys.stdout, nl=1):
    """BCC's printb: write bytes as they are."""
    buf = file.buffer if hasattr(file, "buffer") else file
    buf.write(text)
    if nl:
        buf.write(b"\n")
    file.flush()


class Function:
    """What load_func returns: a program of one type, with its fd."""

    def __init__(self, bpf, name, program, fd):
        self.bpf = bpf
        self.name = name
        self.program = program
        self.fd = fd
        self.sock = None


_live = weakref.WeakSet()


@atexit.register
def _cleanup_all():
    for bpf in list(_live):
        bpf.cleanup()


class BPF:
    SOCKET_FILTER = 1
    KPROBE = 2
    SCHED_CLS = 3
    SCHED_ACT = 4
    TRACEPOINT = 5
    XDP = 6
    PERF_EVENT = 7
    CGROUP_SKB = 8
    RAW_TRACEPOINT = 17
    TRACING = 26
    LSM = 29

    XDP_FLAGS_SKB_MODE = 1 << 1
    XDP_FLAGS_DRV_MODE = 1 << 2

    _KINDS = {SOCKET_FILTER: "socket", KPROBE: "kprobe", SCHED_CLS: "tc", SCHED_ACT: "tc",
              TRACEPOINT: "tracepoint", XDP: "xdp", PERF_EVENT: "perf_event",
              RAW_TRACEPOINT: "raw_tp"}

    def __init__(self, src_file=b"", hdr_file=b"", text=None, debug=0, cflags=None,
                 usdt_contexts=None, allow_rlimit=True, device=None, attach_usdt_ignore_pid=False):
        self._program = None
        if usdt_contexts:
            raise BpfError("USDT probes are not supported by bpfhook.bcc")
        self._attached = {}  # (kind, event, program) -> attach id
        self._outputs = {}  # map name -> (callback, lost callback, is perf, ctx)
        self._tables = {}
        src_file = _s(src_file)
        if text is None:
            if not src_file:
                raise ValueError("BPF needs text= or src_file=")
            with open(src_file) as f:
                text = f.read()
            name = src_file
        else:
            name = "<text>"
        text = _s(text)
        if hdr_file:
            with open(_s(hdr_file)) as f:
                text = f.read() + "\n" + text
        cflags = [_s(flag) for flag in (cflags or [])]
        obj, entries, rewritten, records = _native.bcc_compile(text, name, cflags)
        self.debug = debug
        self.rewritten = rewritten
        if debug:
            print(rewritten, file=sys.stderr)
        self._entries = {}  # (function, kind) -> program
        autos = []
        for function, kind, program, auto in entries:
            self._entries[(function, kind)] = program
            if auto:
                autos.append(program)
        self._record_types = dict(records)
        self._program = _native.Program(obj)
        _live.add(self)
        try:
            if "bpf_trace_printk" in text:
                self._program.open_trace()
            self._attach_named(autos)
        except BaseException:
            self.cleanup()
            raise

    # -- lifetime ----------------------------------------------------------------------
    def cleanup(self):
        """Detaches and unloads everything (also on `with` exit, collection and exit)."""
        if self._program is not None:
            self._attached.clear()
            # Tables point back at this object: drop them so no cycle keeps anything alive.
            self._tables.clear()
            self._outputs.clear()
            self._program.close()
            self._program = None
        _live.discard(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()

    def __del__(self):
        try:
            self.cleanup()
        except Exception:
            pass

    def _native_program(self):
        if self._program is None:
            raise BpfError("this BPF object was cleaned up")
        return self._program

    # -- programs ----------------------------------------------------------------------
    def _attach_named(self, autos):
        """Programs whose names or sections say their hook (kprobe__fn, TRACEPOINT_PROBE, …)."""
        generic = set(self._entries.values()) - set(autos)
        for program, section, kind in self._native_program().programs():
            if program in generic:
                continue
            feature = {"kprobe": "kprobes", "kretprobe": "kprobes", "fentry": "fentry",
                       "fexit": "fentry", "lsm": "lsm"}.get(kind)
            if feature:
                self._need(feature)
            self._attach(kind, section, program, section)

    def _need(self, feature):
        reason = _native.missing_feature(feature)
        if reason:
            raise BpfError(reason)

    def _program_for(self, fn_name, kind):
        fn_name = _s(fn_name)
        program = self._entries.get((fn_name, kind))
        if program is None:
            if any(name == fn_name for name, _, _ in self._native_program().programs()):
                return fn_name
            known = sorted({f for f, _ in self._entries})
            raise BpfError("no function `%s` in the BPF program (it has: %s)"
                           % (fn_name, ", ".join(known) or "none"))
        return program

    def _attach(self, kind, event, program, section, **options):
        key = (kind, event, program)
        if key in self._attached:
            raise BpfError("%s is already attached to %s" % (program, event))
        self._attached[key] = self._native_program().attach(program, section, **options)

    def _detach(self, kind, event, program=None):
        found = [k for k in self._attached
                 if k[0] == kind and k[1] == event and (program is None or k[2] == program)]
        if not found:
            raise BpfError("%s %s is not attached" % (kind, event))
        for key in found:
            self._native_program().detach(self._attached.pop(key))

    def load_func(self, func_name, prog_type, device=None, attach_type=-1):
        kind = self._KINDS.get(prog_type)
        if kind is None:
            raise BpfError("program type %r is not supported by load_func" % prog_type)
        program = self._program_for(func_name, kind)
        fd = self._native_program().load(program)
        return Function(self, _s(func_name), program, fd)

    # kprobes ------------------------------------------------------------------------------
    def attach_kprobe(self, event=b"", event_off=0, fn_name=b"", event_re=b""):
        return self._attach_kprobe(event, event_off, fn_name, event_re, "kprobe")

    def attach_kretprobe(self, event=b"", fn_name=b"", event_re=b"", maxactive=0):
        return self._attach_kprobe(event, 0, fn_name, event_re, "kretprobe")

    def _attach_kprobe(self, event, offset, fn_name, event_re, kind):
        self._need("kprobes")
        program = self._program_for(fn_name, "kprobe")
        events = ([_s(e) for e in BPF.get_kprobe_functions(event_re)] if event_re
                  else [_s(event)])
        for name in events:
            target = name + ("+%d" % offset if offset else "")
            self._attach(kind, name, program, "%s/%s" % (kind, target))

    def detach_kprobe(self, event, fn_name=None):
        self._detach("kprobe", _s(event), fn_name and self._program_for(fn_name, "kprobe"))

    def detach_kretprobe(self, event, fn_name=None):
        self._detach("kretprobe", _s(event), fn_name and self._program_for(fn_name, "kprobe"))

    # tracepoints ----------------------------------------------------------------------
    def attach_tracepoint(self, tp=b"", tp_re=b"", fn_name=b""):
        program = self._program_for(fn_name, "tracepoint")
        if tp_re:
            pattern = re.compile(_s(tp_re))
            names = [n for n in _native.available_tracepoints() if pattern.fullmatch(n)]
        else:
            names = [_s(tp)]
        for name in names:
            category, _, event = name.partition(":")
            self._attach("tracepoint", name, program, "tracepoint/%s/%s" % (category, event))

    def detach_tracepoint(self, tp=b""):
        self._detach("tracepoint", _s(tp))

    def attach_raw_tracepoint(self, tp=b"", fn_name=b""):
        program = self._program_for(fn_name, "raw_tp")
        self._attach("raw_tracepoint", _s(tp), program, "raw_tracepoint/%s" % _s(tp))

    def detach_raw_tracepoint(self, tp=b""):
        self._detach("raw_tracepoint", _s(tp))

    def attach_kfunc(self, fn_name=b""):
        self._need("fentry")
        self._attach_by_section(fn_name, "kfunc")

    def attach_kretfunc(self, fn_name=b""):
        self._need("fentry")
        self._attach_by_section(fn_name, "kretfunc")

    def attach_lsm(self, fn_name=b""):
        self._need("lsm")
        self._attach_by_section(fn_name, "lsm")

    def _attach_by_section(self, fn_name, kind):
        program = _s(fn_name)
        sections = {name: section for name, section, _ in self._native_program().programs()}
        if program not in sections:
            raise BpfError("no program `%s`" % program)
        self._attach(kind, sections[program], program, sections[program])

    # uprobes --------------------------------------------------------------------------
    def attach_uprobe(self, name=b"", sym=b"", sym_re=b"", addr=None, fn_name=b"", pid=-1,
                      sym_off=0):
        self._attach_uprobe(name, sym, addr, fn_name, pid, sym_off, "uprobe", sym_re)

    def attach_uretprobe(self, name=b"", sym=b"", sym_re=b"", addr=None, fn_name=b"", pid=-1):
        self._attach_uprobe(name, sym, addr, fn_name, pid, 0, "uretprobe", sym_re)

    def _attach_uprobe(self, name, sym, addr, fn_name, pid, sym_off, kind, sym_re=b""):
        if sym_re:
            raise BpfError("attach_uprobe(sym_re=…) is not supported: name the symbol")
        program = self._program_for(fn_name, "kprobe")
        binary = _binary_path(_s(name))
        if addr is not None:
            where = "0x%x" % addr
        else:
            where = _s(sym) + ("+%d" % sym_off if sym_off else "")
        event = "%s:%s" % (binary, where)
        self._attach(kind, event, program, "%s/%s" % (kind, event),
                     pid=pid if pid is not None and pid >= 0 else None)

    def detach_uprobe(self, name=b"", sym=b"", addr=None, pid=-1):
        where = "0x%x" % addr if addr is not None else _s(sym)
        self._detach("uprobe", "%s:%s" % (_binary_path(_s(name)), where))

    def detach_uretprobe(self, name=b"", sym=b"", addr=None, pid=-1):
        where = "0x%x" % addr if addr is not None else _s(sym)
        self._detach("uretprobe", "%s:%s" % (_binary_path(_s(name)), where))

    # perf events ----------------------------------------------------------------------
    def attach_perf_event(self, ev_type=-1, ev_config=-1, fn_name=b"", sample_period=0,
                          sample_freq=0, pid=-1, cpu=-1, group_fd=-1):
        if cpu >= 0:
            raise BpfError("attach_perf_event(cpu=…) is not supported: it samples every CPU")
        names = {PerfType.SOFTWARE: _SOFTWARE_EVENTS, PerfType.HARDWARE: _HARDWARE_EVENTS}
        if ev_type not in names or not 0 <= ev_config < len(names[ev_type]):
            raise BpfError("perf event type %r config %r is not supported" % (ev_type, ev_config))
        prefix = "software:" if ev_type == PerfType.SOFTWARE else "hardware:"
        event = prefix + names[ev_type][ev_config]
        program = self._program_for(fn_name, "perf_event")
        self._attach("perf_event", event, program, "perf_event", perf_event=event,
                     sample_period=sample_period or None, sample_freq=sample_freq or None,
                     pid=pid if pid >= 0 else None)

    def detach_perf_event(self, ev_type=-1, ev_config=-1):
        prefix = "software:" if ev_type == PerfType.SOFTWARE else "hardware:"
        names = _SOFTWARE_EVENTS if ev_type == PerfType.SOFTWARE else _HARDWARE_EVENTS
        self._detach("perf_event", prefix + names[ev_config])

    # network --------------------------------------------------------------------------
    def attach_xdp(self, dev, fn, flags=0):
        if flags & BPF.XDP_FLAGS_SKB_MODE:
            mode = "generic"
        elif flags & BPF.XDP_FLAGS_DRV_MODE:
            mode = "native"
        else:
            mode = "auto"
        self._attach("xdp", _s(dev), fn.program, "xdp", iface=_s(dev), xdp_mode=mode)

    def remove_xdp(self, dev, flags=0):
        self._detach("xdp", _s(dev))

    @staticmethod
    def attach_raw_socket(fn, dev):
        fn.bpf._attach("socket", _s(dev), fn.program, "socket", iface=_s(dev))
        # The packet socket the filter sits on: what BCC scripts read kept packets from.
        fn.sock = fn.bpf._native_program().socket_of(
            fn.bpf._attached[("socket", _s(dev), fn.program)])

    # counts ---------------------------------------------------------------------------
    def num_open_kprobes(self):
        return sum(1 for k in self._attached if k[0] in ("kprobe", "kretprobe"))

    def num_open_uprobes(self):
        return sum(1 for k in self._attached if k[0] in ("uprobe", "uretprobe"))

    def num_open_tracepoints(self):
        return sum(1 for k in self._attached if k[0] == "tracepoint")

    # tables ---------------------------------------------------------------------------
    def __getitem__(self, name):
        name = _s(name)
        if name not in self._tables:
            if name not in self._native_program().maps():
                raise KeyError(name)
            self._tables[name] = make_table(self, name)
        return self._tables[name]

    def __contains__(self, name):
        return _s(name) in self._native_program().maps()

    def get_table(self, name, keytype=None, leaftype=None, reducer=None):
        table = self[name]
        if keytype is not None:
            table.Key = keytype
        if leaftype is not None:
            table.Leaf = leaftype
        return table

    def __iter__(self):
        return iter(self._native_program().maps())

    def _record_class(self, map_name):
        c_type = self._record_types.get(map_name)
        desc = self._native_program().struct_type(c_type) if c_type else None
        if desc is None:
            raise BpfError("no record type known for `%s`: the program does not submit a "
                           "typed struct to it" % map_name)
        return ctype_of(desc, c_type)

    # output buffers -------------------------------------------------------------------
    def _open_output(self, name, callback, lost_cb, perf, ctx=None, page_cnt=None):
        self._outputs[name] = (callback, lost_cb, perf, ctx)
        self._native_program().open_records(page_cnt)

    def _poll(self, timeout, perf):
        records = self._native_program().poll_records(timeout)
        for name, cpu, data in records:
            entry = self._outputs.get(name)
            if entry is None:
                continue
            callback, lost_cb, is_perf, ctx = entry
            if isinstance(data, int):
                if lost_cb:
                    lost_cb(data)
                continue
            buffer = ct.create_string_buffer(data, len(data))
            pointer = ct.cast(buffer, ct.c_void_p)
            if is_perf:
                callback(cpu, pointer, len(data))
            else:
                callback(ctx, pointer, len(data))

    def perf_buffer_poll(self, timeout=-1):
        self._poll(timeout, True)

    def perf_buffer_consume(self):
        self._poll(0, True)

    def ring_buffer_poll(self, timeout=-1):
        self._poll(timeout, False)

    def ring_buffer_consume(self):
        self._poll(0, False)

    # trace_printk ---------------------------------------------------------------------
    def _trace_lines(self, nonblocking):
        pending = getattr(self, "_trace_pending", None)
        if pending is None:
            pending = self._trace_pending = []
        while not pending:
            pending.extend(self._native_program().read_trace(0 if nonblocking else 500))
            if nonblocking:
                break
        return pending

    def trace_fields(self, nonblocking=False):
        """(task, pid, cpu, flags, ts, msg) of the next bpf_trace_printk line."""
        lines = self._trace_lines(nonblocking)
        if not lines:
            return (None, None, None, None, None, None)
        comm, pid, cpu, ts, msg = lines.pop(0)
        return (comm.encode(), pid, cpu, b"....", float(ts or 0), msg.encode())

    def trace_readline(self, nonblocking=False):
        lines = self._trace_lines(nonblocking)
        if not lines:
            return None
        comm, pid, cpu, ts, msg = lines.pop(0)
        return ("%16s-%-7d [%03d] .... %s: bpf_trace_printk: %s" % (comm, pid, cpu, ts, msg)).encode()

    def trace_print(self, fmt=None):
        """Prints bpf_trace_printk lines until interrupted; fmt formats BCC's fields."""
        while True:
            if fmt:
                fields = self.trace_fields(nonblocking=False)
                if fields[0] is None:
                    continue
                line = fmt.format(*fields)
            else:
                line = self.trace_readline(nonblocking=False)
                if line is None:
                    continue
                line = line.decode()
            print(line)
            sys.stdout.flush()

    # symbols --------------------------------------------------------------------------
    @staticmethod
    def _format_symbol(found, address, show_module, show_offset):
        if found is None:
            return b"[unknown]"
        name, offset, module = found
        text = name
        if show_offset:
            text += "+0x%x" % offset
        if show_module:
            text += " [%s]" % (module or "kernel")
        return text.encode()

    _shared_symbols = None

    @classmethod
    def _symbolizer(cls):
        if cls._shared_symbols is None:
            cls._shared_symbols = _native.Symbols()
        return cls._shared_symbols

    @staticmethod
    def ksym(addr, show_module=False, show_offset=False):
        return BPF._format_symbol(BPF._symbolizer().ksym(addr), addr, show_module, show_offset)

    @staticmethod
    def ksymname(name):
        address = BPF._symbolizer().ksymname(_s(name))
        return -1 if address is None else address

    @staticmethod
    def sym(addr, pid, show_module=False, show_offset=False, demangle=True):
        return BPF._format_symbol(BPF._symbolizer().sym(addr, pid), addr, show_module, show_offset)

    @staticmethod
    def get_syscall_prefix():
        return {"x86_64": b"__x64_sys_", "aarch64": b"__arm64_sys_"}.get(os.uname().machine, b"sys_")

    @staticmethod
    def get_syscall_fnname(name):
        return BPF.get_syscall_prefix() + (name if isinstance(name, bytes) else name.encode())

    # discovery ------------------------------------------------------------------------
    @staticmethod
    def tracepoint_exists(category, event):
        return _native.tracepoint_exists(_s(category), _s(event))

    @staticmethod
    def get_kprobe_functions(event_re):
        pattern = re.compile(_s(event_re))
        return {name.encode() for name in _native.kprobe_functions() if pattern.fullmatch(name)}

    @staticmethod
    def kernel_struct_has_field(struct_name, field_name):
        return int(_native.kernel_struct_has_field(_s(struct_name), _s(field_name)))

    @staticmethod
    def support_raw_tracepoint():
        return True

    @staticmethod
    def support_raw_tracepoint_in_module():
        return True

    @staticmethod
    def support_kfunc():
        return _native.missing_feature("fentry") is None

    @staticmethod
    def support_lsm():
        return _native.missing_feature("lsm") is None


def _binary_path(name):
    """BCC's `name=`: a path, a program in $PATH or a library (`c` → libc.so.6), resolved as
    the library resolves uprobe binaries."""
    if "/" in name:
        return name
    return _native.find_binary(name) or name

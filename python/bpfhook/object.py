"""`bpfhook.Object`: a compiled eBPF object (libbpf-style sections) from Python."""

import ctypes as ct

from . import _native
from ._ctypes import ctype_of


def _as_dict(value):
    """A ctypes value as plain Python: structs as dicts, char arrays as str, arrays as lists."""
    if isinstance(value, (ct.Structure, ct.Union)):
        return {name: _as_dict(getattr(value, name))
                for name, *_ in value._fields_ if not name.startswith("__pad")}
    if isinstance(value, ct.Array):
        if value._type_ is ct.c_char:
            return value.value.decode(errors="replace")
        return [_as_dict(v) for v in value]
    if isinstance(value, ct._SimpleCData):
        return _as_dict(value.value)
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value


class Object:
    """Object("x.bpf.o").attach() attaches every program to the hook its section names;
    records from its ring and perf buffers come back as dicts typed from BTF."""

    def __init__(self, path, event_type="event"):
        self._program = _native.Program(str(path))
        self._event_type = event_type
        self._record_class = None
        self._attached = []

    def programs(self):
        return [name for name, _, _ in self._program.programs()]

    def attach(self, **options):
        """Attaches every program (options: pid=, iface=, perf_event=…); returns self."""
        try:
            for name, section, _ in self._program.programs():
                self._attached.append(self._program.attach(name, section, **options))
        except BaseException:
            self.close()
            raise
        return self

    def records(self, timeout_ms=1000):
        """Records that arrive within the timeout: a list of (map name, dict)."""
        out = []
        for name, _cpu, data in self._program.poll_records(timeout_ms):
            if isinstance(data, int):
                continue
            out.append((name, self._decode(data)))
        return out

    def _decode(self, data):
        if self._record_class is None:
            desc = self._program.struct_type(self._event_type)
            if desc is None:
                return {"data": bytes(data)}
            self._record_class = ctype_of(desc, self._event_type)
        size = ct.sizeof(self._record_class)
        record = self._record_class.from_buffer_copy(bytes(data).ljust(size, b"\0")[:size])
        return _as_dict(record)

    def map_items(self, name):
        """A map's entries as (key, value) dicts or ints, typed from BTF."""
        key_desc, value_desc = self._program.map_types(name)
        key_type, value_type = ctype_of(key_desc), ctype_of(value_desc)
        items = []
        for key in self._program.map_keys(name):
            value = self._program.map_lookup(name, key)
            if value is None:
                continue
            k = _as_dict(key_type.from_buffer_copy(key)) if key_type else key
            v = (_as_dict(value_type.from_buffer_copy(value[: ct.sizeof(value_type)]))
                 if value_type else value)
            items.append((k, v))
        return items

    def close(self):
        self._attached.clear()
        self._program.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

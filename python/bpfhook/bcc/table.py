"""BCC's table objects over bpfhook maps: dict-like access with ctypes Key/Leaf types,
histogram printing in BCC's layout, per-CPU values, stack traces, output buffers."""

import ctypes as ct
import weakref

from .._ctypes import ctype_of, scalar_for_size
from .hist import print_linear_hist_values, print_log2_hist_values

# Kernel map type numbers (enum bpf_map_type).
HASH, ARRAY, PROG_ARRAY, PERF_EVENT_ARRAY = 1, 2, 3, 4
PERCPU_HASH, PERCPU_ARRAY, STACK_TRACE = 5, 6, 7
LRU_HASH, LRU_PERCPU_HASH = 9, 10
RINGBUF = 27

LOG2_INDEX_MAX = 65
LINEAR_INDEX_MAX = 1025


def make_table(bpf, name):
    """The table class BCC would give map `name`."""
    map_type, key_size, value_size, max_entries = bpf._program.maps()[name]
    cls = {
        HASH: HashTable,
        LRU_HASH: HashTable,
        ARRAY: Array,
        PERCPU_HASH: PerCpuHash,
        LRU_PERCPU_HASH: PerCpuHash,
        PERCPU_ARRAY: PerCpuArray,
        STACK_TRACE: StackTrace,
        PERF_EVENT_ARRAY: PerfEventArray,
        RINGBUF: RingBuf,
    }.get(map_type, TableBase)
    return cls(bpf, name, map_type, key_size, value_size, max_entries)


class TableBase:
    def __init__(self, bpf, name, map_type, key_size, value_size, max_entries):
        # A proxy, not a reference: no cycle, so the BPF object (and what it holds in the
        # kernel) goes when its last reference does, on the thread that drops it.
        self.bpf = weakref.proxy(bpf)
        self.name = name
        self.map_type = map_type
        self.max_entries = max_entries
        key_desc, leaf_desc = self._native.map_types(name)
        self.Key = ctype_of(key_desc, name + "_key") or scalar_for_size(key_size)
        self.Leaf = ctype_of(leaf_desc, name + "_leaf") or scalar_for_size(value_size)
        self._key_size = key_size

    @property
    def _native(self):
        """The loaded object (raises once the BPF object was cleaned up)."""
        return self.bpf._native_program()

    # -- conversions -------------------------------------------------------------------
    def _key(self, key):
        if isinstance(key, int):
            key = self.Key(key)
        return key

    def _key_bytes(self, key):
        return bytes(self._key(key))

    def _leaf_from(self, data):
        return self.Leaf.from_buffer_copy(data[: ct.sizeof(self.Leaf)])

    # -- dict protocol -----------------------------------------------------------------
    def get_fd(self):
        return self._native.map_fd_number(self.name)

    def __getitem__(self, key):
        data = self._native.map_lookup(self.name, self._key_bytes(key))
        if data is None:
            raise KeyError(key)
        return self._leaf_from(data)

    def __setitem__(self, key, leaf):
        if isinstance(leaf, int):
            leaf = self.Leaf(leaf)
        self._native.map_update(self.name, self._key_bytes(key), bytes(leaf))

    def __delitem__(self, key):
        if not self._native.map_delete(self.name, self._key_bytes(key)):
            raise KeyError(key)

    def __contains__(self, key):
        return self._native.map_lookup(self.name, self._key_bytes(key)) is not None

    def __len__(self):
        return len(self._native.map_keys(self.name))

    def __iter__(self):
        return iter(self.keys())

    def get(self, key, default=None):
        try:
            return self[key]
        except KeyError:
            return default

    def keys(self):
        return [self.Key.from_buffer_copy(k) for k in self._native.map_keys(self.name)]

    def itervalues(self):
        return iter(self.values())

    def iteritems(self):
        return iter(self.items())

    def values(self):
        return [value for _, value in self.items()]

    def items(self):
        out = []
        for raw in self._native.map_keys(self.name):
            data = self._native.map_lookup(self.name, raw)
            if data is not None:
                out.append((self.Key.from_buffer_copy(raw), self._leaf_from(data)))
        return out

    def items_lookup_batch(self):
        return self.items()

    def clear(self):
        for raw in self._native.map_keys(self.name):
            self._native.map_delete(self.name, raw)

    def zero(self):
        for raw in self._native.map_keys(self.name):
            self._native.map_update(self.name, raw, bytes(ct.sizeof(self.Leaf)))

    # -- histograms --------------------------------------------------------------------
    def _bucketed(self, index_max, bucket_fn, bucket_sort_fn):
        """{section: [count per slot]} for keys that are structs (section, slot, ...)."""
        fields = [f[0] for f in self.Key._fields_ if not f[0].startswith("__pad")]
        section_field, slot_field = fields[0], fields[1]
        sections = {}
        for key, leaf in self.items():
            section = getattr(key, section_field)
            if bucket_fn:
                section = bucket_fn(section)
            counts = sections.setdefault(section, [0] * index_max)
            counts[getattr(key, slot_field)] += _int(leaf)
        order = list(sections)
        if bucket_sort_fn:
            order = bucket_sort_fn(order)
        return [(section, sections[section]) for section in order]

    def _flat(self, index_max):
        counts = [0] * index_max
        for key, leaf in self.items():
            slot = _int(key)
            if 0 <= slot < index_max:
                counts[slot] += _int(leaf)
        return counts

    def _print_hist(self, printer, index_max, val_type, section_header, section_print_fn,
                    bucket_fn, strip_leading_zero, bucket_sort_fn):
        if issubclass(self.Key, ct.Structure):
            for section, counts in self._bucketed(index_max, bucket_fn, bucket_sort_fn):
                label = section_print_fn(section) if section_print_fn else repr(section)
                print("\n%s = %s" % (section_header, label))
                printer(counts, val_type, strip_leading_zero)
        else:
            printer(self._flat(index_max), val_type, strip_leading_zero)

    def print_log2_hist(self, val_type="value", section_header="Bucket ptr",
                        section_print_fn=None, bucket_fn=None, strip_leading_zero=None,
                        bucket_sort_fn=None):
        self._print_hist(print_log2_hist_values, LOG2_INDEX_MAX, val_type, section_header,
                         section_print_fn, bucket_fn, strip_leading_zero, bucket_sort_fn)

    def print_linear_hist(self, val_type="value", section_header="Bucket ptr",
                          section_print_fn=None, bucket_fn=None, strip_leading_zero=None,
                          bucket_sort_fn=None):
        self._print_hist(print_linear_hist_values, LINEAR_INDEX_MAX, val_type, section_header,
                         section_print_fn, bucket_fn, strip_leading_zero, bucket_sort_fn)


def _int(value):
    """A ctypes scalar (or a bytes-like key of one) as a Python int."""
    if isinstance(value, int):
        return value
    inner = getattr(value, "value", None)
    if isinstance(inner, int):
        return inner
    return int.from_bytes(bytes(value), "little")


class HashTable(TableBase):
    pass


class Array(TableBase):
    """Every index exists; deleting zeroes it."""

    def _key(self, key):
        if isinstance(key, int):
            if key < 0:
                key += self.max_entries
            if not 0 <= key < self.max_entries:
                raise IndexError("array index out of range")
            key = self.Key(key)
        return key

    def __delitem__(self, key):
        self._native.map_update(self.name, self._key_bytes(key), bytes(ct.sizeof(self.Leaf)))

    def __len__(self):
        return self.max_entries

    def clear(self):
        self.zero()


class _PerCpu(TableBase):
    """Values are one Leaf per possible CPU; sum/max/average combine them."""

    def _leaf_from(self, data):
        cpus, slot = self._native.value_slots(self.name)
        size = ct.sizeof(self.Leaf)
        values = (self.Leaf * cpus)()
        for cpu in range(cpus):
            values[cpu] = self.Leaf.from_buffer_copy(data[cpu * slot: cpu * slot + size])
        return values

    def __setitem__(self, key, leaf):
        cpus, slot = self._native.value_slots(self.name)
        if isinstance(leaf, int) or isinstance(leaf, self.Leaf):
            leaf = [leaf] * cpus
        data = bytearray(cpus * slot)
        for cpu, value in enumerate(leaf):
            if isinstance(value, int):
                value = self.Leaf(value)
            raw = bytes(value)
            data[cpu * slot: cpu * slot + len(raw)] = raw
        self._native.map_update(self.name, self._key_bytes(key), bytes(data))

    def sum(self, key):
        return self.Leaf(sum(_int(v) for v in self[key]))

    def max(self, key):
        return self.Leaf(max(_int(v) for v in self[key]))

    def average(self, key):
        values = self[key]
        return sum(_int(v) for v in values) / len(values)

    def zero(self):
        cpus, slot = self._native.value_slots(self.name)
        for raw in self._native.map_keys(self.name):
            self._native.map_update(self.name, raw, bytes(cpus * slot))

    def _flat(self, index_max):
        counts = [0] * index_max
        for key, values in self.items():
            slot = _int(key)
            if 0 <= slot < index_max:
                counts[slot] += sum(_int(v) for v in values)
        return counts


class PerCpuHash(_PerCpu):
    pass


class PerCpuArray(_PerCpu, Array):
    def __delitem__(self, key):
        cpus, slot = self._native.value_slots(self.name)
        self._native.map_update(self.name, self._key_bytes(key), bytes(cpus * slot))

    def clear(self):
        self.zero()


class StackTrace(TableBase):
    """Stack ids to frames: walk(id) yields the addresses, innermost first."""

    MAX_DEPTH = 127

    def __init__(self, *args):
        super().__init__(*args)
        self.Key = ct.c_uint
        self.Leaf = ct.c_ulonglong * (self._value_size() // 8)

    def _value_size(self):
        return self._native.maps()[self.name][2]

    def walk(self, stack_id, resolve=None):
        try:
            frames = self[stack_id]
        except KeyError:
            return iter(())
        addresses = [address for address in frames if address]
        if resolve:
            return iter([resolve(a) for a in addresses])
        return iter(addresses)


class _OutputBuffer(TableBase):
    """Perf and ring buffers: records are decoded with event()."""

    def __init__(self, *args):
        super().__init__(*args)
        self._event_class = None

    def event(self, data):
        """The record as a ctypes struct of the type the program writes (from BTF)."""
        if self._event_class is None:
            self._event_class = self.bpf._record_class(self.name)
        cls = self._event_class
        if isinstance(data, (bytes, bytearray)):
            raw = bytes(data).ljust(ct.sizeof(cls), b"\0")
            return cls.from_buffer_copy(raw[: ct.sizeof(cls)])
        return ct.cast(data, ct.POINTER(cls)).contents


class PerfEventArray(_OutputBuffer):
    def open_perf_buffer(self, callback, page_cnt=8, lost_cb=None, wakeup_events=1):
        self.bpf._open_output(self.name, callback, lost_cb, perf=True, page_cnt=page_cnt)


class RingBuf(_OutputBuffer):
    def open_ring_buffer(self, callback, ctx=None):
        self.bpf._open_output(self.name, callback, None, perf=False, ctx=ctx)

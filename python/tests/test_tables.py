"""Tables: dict protocol, ctypes Key/Leaf, arrays, per-CPU values, stacks, histograms."""

import ctypes as ct
import io
import os
from contextlib import redirect_stdout

import pytest

from bpfhook.bcc import BPF
from bpfhook.bcc.hist import print_linear_hist_values, print_log2_hist_values

PROGRAM = r"""
#include <linux/sched.h>
struct key_t {
    u32 pid;
    char comm[TASK_COMM_LEN];
};
struct leaf_t {
    u64 count;
    u64 last_ns;
};
BPF_HASH(calls, struct key_t, struct leaf_t);
BPF_ARRAY(slots, u64, 4);
BPF_PERCPU_ARRAY(percpu, u64, 2);
BPF_HASH(plain);
BPF_STACK_TRACE(stacks, 128);
BPF_HASH(stack_ids, u32, int);

TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {
    struct key_t key = {};
    key.pid = bpf_get_current_pid_tgid() >> 32;
    if (key.pid != TARGET_PID)
        return 0;
    bpf_get_current_comm(&key.comm, sizeof(key.comm));
    struct leaf_t zero = {};
    struct leaf_t *leaf = calls.lookup_or_try_init(&key, &zero);
    if (leaf) {
        leaf->count++;
        leaf->last_ns = bpf_ktime_get_ns();
    }
    slots.increment(1);
    slots.increment(2, 5);
    int zero_index = 0;
    u64 *cpu_count = percpu.lookup(&zero_index);
    if (cpu_count)
        (*cpu_count)++;
    int id = stacks.get_stackid(args, 0);
    u32 one = 1;
    stack_ids.update(&one, &id);
    return 0;
}
"""


@pytest.fixture
def bpf():
    b = BPF(text=PROGRAM, cflags=["-DTARGET_PID=%d" % os.getpid()])
    try:
        yield b
    finally:
        b.cleanup()


def test_hash_items_keys_values_and_struct_types(bpf):
    for _ in range(3):
        os.getppid()
    calls = bpf["calls"]
    items = calls.items()
    assert len(items) == 1
    key, leaf = items[0]
    assert key.pid == os.getpid()
    assert key.comm.decode() == open("/proc/self/comm").read().strip()[:15]
    assert leaf.count == 3 and leaf.last_ns > 0
    assert [k.pid for k in calls.keys()] == [os.getpid()]
    assert calls.values()[0].count == 3
    assert calls[key].count == 3
    assert key in calls and len(calls) == 1
    assert issubclass(calls.Key, ct.Structure) and issubclass(calls.Leaf, ct.Structure)
    calls[key] = calls.Leaf(count=42, last_ns=1)
    assert calls[key].count == 42
    del calls[key]
    assert len(calls) == 0
    with pytest.raises(KeyError):
        calls[key]


def test_plain_hash_defaults_and_clear(bpf):
    plain = bpf["plain"]
    assert plain.Key is ct.c_ulonglong and plain.Leaf is ct.c_ulonglong
    for i in range(5):
        plain[plain.Key(i)] = plain.Leaf(i * 10)
    assert sorted((k.value, v.value) for k, v in plain.items()) == [(i, i * 10) for i in range(5)]
    plain.clear()
    assert plain.items() == []


def test_array_increment_and_delete_zeroes(bpf):
    os.getppid()
    os.getppid()
    slots = bpf["slots"]
    assert len(slots) == 4
    assert [v.value for v in slots.values()] == [0, 2, 10, 0]
    assert slots[2].value == 10
    del slots[2]
    assert slots[2].value == 0
    with pytest.raises(IndexError):
        slots[4]


def test_percpu_sum_and_max(bpf):
    for _ in range(4):
        os.getppid()
    percpu = bpf["percpu"]
    per_cpu_values = percpu[0]
    assert len(per_cpu_values) == os.cpu_count() or len(per_cpu_values) >= 1
    assert percpu.sum(0).value == 4
    assert 1 <= percpu.max(0).value <= 4
    percpu.clear()
    assert percpu.sum(0).value == 0


def test_stack_trace_walks_to_kernel_symbols(bpf):
    os.getppid()
    stack_id = bpf["stack_ids"][ct.c_uint(1)].value
    assert stack_id >= 0
    frames = [BPF.ksym(address) for address in bpf["stacks"].walk(stack_id)]
    assert frames and all(f != b"[unknown]" for f in frames), frames


def test_print_log2_hist_layout():
    counts = [0] * 65
    counts[1], counts[3], counts[5] = 1, 8, 3
    out = io.StringIO()
    with redirect_stdout(out):
        print_log2_hist_values(counts, "usecs")
    assert out.getvalue() == (
        "     usecs               : count     distribution\n"
        "         0 -> 1          : 1        |*****                                   |\n"
        "         2 -> 3          : 0        |                                        |\n"
        "         4 -> 7          : 8        |****************************************|\n"
        "         8 -> 15         : 0        |                                        |\n"
        "        16 -> 31         : 3        |***************                         |\n"
    )


def test_print_log2_hist_wide_layout_and_strip_leading_zero():
    counts = [0] * 65
    counts[34], counts[40] = 2, 4
    out = io.StringIO()
    with redirect_stdout(out):
        print_log2_hist_values(counts, "ns", strip_leading_zero=True)
    lines = out.getvalue().splitlines()
    assert lines[0] == "               ns                            : count     distribution"
    assert lines[1] == "          8589934592 -> 17179869183          : 2        |**********          |"
    assert lines[-1] == "        549755813888 -> 1099511627775        : 4        |********************|"
    assert len(lines) == 8


def test_print_linear_hist_layout():
    out = io.StringIO()
    with redirect_stdout(out):
        print_linear_hist_values([0, 2, 4], "kbytes")
    assert out.getvalue() == (
        "     kbytes        : count     distribution\n"
        "        0          : 0        |                                        |\n"
        "        1          : 2        |********************                    |\n"
        "        2          : 4        |****************************************|\n"
    )


def test_table_print_log2_hist_from_kernel_map():
    b = BPF(text="BPF_HISTOGRAM(dist);\n"
                 "TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {\n"
                 "    if ((bpf_get_current_pid_tgid() >> 32) != TARGET_PID) return 0;\n"
                 "    dist.increment(bpf_log2l(100));\n"
                 "    return 0;\n}\n", cflags=["-DTARGET_PID=%d" % os.getpid()])
    with b:
        for _ in range(6):
            os.getppid()
        out = io.StringIO()
        with redirect_stdout(out):
            b["dist"].print_log2_hist("usecs")
    lines = out.getvalue().splitlines()
    assert lines[0] == "     usecs               : count     distribution"
    assert lines[-1] == "        64 -> 127        : 6        |****************************************|"


def test_sectioned_log2_hist_from_struct_keys():
    b = BPF(text=r"""
struct disk_key_t {
    char disk[8];
    u64 slot;
};
BPF_HISTOGRAM(dist, struct disk_key_t);
int unused(void *ctx) { return 0; }
""")
    with b:
        dist = b["dist"]
        for disk, slot, count in [(b"vda", 2, 3), (b"vda", 4, 6), (b"vdb", 1, 2)]:
            dist[dist.Key(disk=disk, slot=slot)] = dist.Leaf(count)
        out = io.StringIO()
        with redirect_stdout(out):
            dist.print_log2_hist("usecs", "disk", section_print_fn=bytes.decode,
                                 bucket_sort_fn=sorted)
    assert out.getvalue() == (
        "\n"
        "disk = vda\n"
        "     usecs               : count     distribution\n"
        "         0 -> 1          : 0        |                                        |\n"
        "         2 -> 3          : 3        |********************                    |\n"
        "         4 -> 7          : 0        |                                        |\n"
        "         8 -> 15         : 6        |****************************************|\n"
        "\n"
        "disk = vdb\n"
        "     usecs               : count     distribution\n"
        "         0 -> 1          : 2        |****************************************|\n"
    )


def test_ringbuf_output_records_typed_by_the_output_call():
    b = BPF(text=r"""
struct sample_t {
    u32 pid;
    u64 sequence;
};
BPF_RINGBUF_OUTPUT(samples, 8);
BPF_ARRAY(sequence, u64, 1);
TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {
    struct sample_t s = {};
    s.pid = bpf_get_current_pid_tgid() >> 32;
    if (s.pid != TARGET_PID)
        return 0;
    int zero = 0;
    u64 *n = sequence.lookup(&zero);
    if (n)
        s.sequence = __sync_fetch_and_add(n, 1);
    samples.ringbuf_output(&s, sizeof(s), 0);
    return 0;
}
""", cflags=["-DTARGET_PID=%d" % os.getpid()])
    got = []
    with b:
        b["samples"].open_ring_buffer(
            lambda ctx, data, size: got.append((b["samples"].event(data), size)))
        for _ in range(3):
            os.getppid()
        b.ring_buffer_consume()
    assert [(e.pid, e.sequence) for e, _ in got] == [(os.getpid(), i) for i in range(3)]
    assert got[0][1] == 16

"""Hooks besides tracepoints: uprobes, perf events, raw tracepoints; and what the dialect
rewriter produces for kprobe-style functions (kprobes themselves are absent here)."""

import ctypes as ct
import os
import time

import pytest

from bpfhook import BpfError
from bpfhook.bcc import BPF, PerfSWConfig, PerfType

COUNTER = r"""
BPF_ARRAY(hits, u64, 1);
int count(void *ctx) {
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    if (pid != TARGET_PID)
        return 0;
    hits.increment(0);
    return 0;
}
"""


def counter():
    return BPF(text=COUNTER, cflags=["-DTARGET_PID=%d" % os.getpid()])


def test_uprobe_on_libc_counts_our_calls():
    libc = ct.CDLL("libc.so.6")
    with counter() as b:
        b.attach_uprobe(name="c", sym="getppid", fn_name="count")
        assert b.num_open_uprobes() == 1
        for _ in range(5):
            libc.getppid()
        assert b["hits"][0].value >= 5
        b.detach_uprobe(name="c", sym="getppid")
        before = b["hits"][0].value
        libc.getppid()
        assert b["hits"][0].value == before


def test_uretprobe_and_missing_symbol():
    libc = ct.CDLL("libc.so.6")
    with counter() as b:
        b.attach_uretprobe(name="c", sym="getppid", fn_name="count")
        libc.getppid()
        assert b["hits"][0].value >= 1
        with pytest.raises(BpfError, match="no_such_symbol_here"):
            b.attach_uprobe(name="c", sym="no_such_symbol_here", fn_name="count")


def test_perf_event_software_clock_samples_us():
    with counter() as b:
        b.attach_perf_event(ev_type=PerfType.SOFTWARE, ev_config=PerfSWConfig.CPU_CLOCK,
                            fn_name="count", sample_freq=999, pid=os.getpid())
        end = time.time() + 0.3
        while time.time() < end:
            pass
        assert b["hits"][0].value > 0


def test_raw_tracepoint_by_name_and_by_macro():
    text = COUNTER + r"""
RAW_TRACEPOINT_PROBE(sys_enter) {
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    if (pid == TARGET_PID)
        hits.increment(0, 100);
    return 0;
}
"""
    with BPF(text=text, cflags=["-DTARGET_PID=%d" % os.getpid()]) as b:
        os.getppid()
        assert b["hits"][0].value >= 100
    with counter() as b:
        b.attach_raw_tracepoint(tp="sys_enter", fn_name="count")
        os.getppid()
        assert b["hits"][0].value >= 1


def test_kprobe_attach_is_refused_with_the_kernel_reason():
    with counter() as b:
        with pytest.raises(BpfError, match="CONFIG_KPROBES"):
            b.attach_kprobe(event=b.get_syscall_fnname("getppid"), fn_name="count")
        assert b.num_open_kprobes() == 0


def test_rewriter_output_for_typed_kprobe_parameters_and_kernel_reads():
    b = BPF(text=r"""
#include <net/sock.h>
BPF_HASH(seen, u32, u16);
int on_connect(struct pt_regs *ctx, struct sock *sk) {
    u32 pid = bpf_get_current_pid_tgid();
    u16 family = sk->__sk_common.skc_family;
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    u32 ppid = task->real_parent->tgid;
    seen.update(&pid, &family);
    return ppid;
}
""")
    with b:
        text = b.rewritten
    assert "__bcc_update(&seen, &pid, &family)" in text
    assert "__bcc_read(sk->__sk_common.skc_family)" in text
    assert "__bcc_read(__bcc_read(task->real_parent)->tgid)" in text
    assert "(struct sock *)PT_REGS_PARM1(ctx)" in text
    assert "static __always_inline int on_connect" in text


def test_helpers_for_symbols_and_discovery():
    assert BPF.tracepoint_exists("sched", "sched_switch")
    assert not BPF.tracepoint_exists("sched", "no_such_event")
    assert BPF.kernel_struct_has_field("task_struct", "real_parent") == 1
    assert BPF.kernel_struct_has_field("task_struct", "no_such_field") == 0
    address = BPF.ksymname("schedule")
    assert address > 0
    assert BPF.ksym(address) == b"schedule"
    assert BPF.ksym(address + 1, show_offset=True) == b"schedule+0x1"
    assert BPF.get_syscall_fnname("execve").endswith(b"sys_execve")


def test_rewrites_inside_macro_arguments_and_helpers_run():
    text = r"""
#include <linux/sched.h>
BPF_HASH(parents, u32, u32);
static u32 parent_of(struct task_struct *task) {
    return task->real_parent->tgid;
}
TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    if (pid != TARGET_PID)
        return 0;
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    u32 ppid = parent_of(task);
    parents.update(&pid, &ppid);
    bpf_trace_printk("ppid %d %d\n", task->real_parent->tgid, parents.lookup(&pid) != 0);
    return 0;
}
"""
    with BPF(text=text, cflags=["-DTARGET_PID=%d" % os.getpid()]) as b:
        assert "return __bcc_read(__bcc_read(task->real_parent)->tgid);" in b.rewritten
        assert '__bcc_read(__bcc_read(task->real_parent)->tgid), __bcc_lookup(&parents, &pid) != 0)' \
            in b.rewritten
        os.getppid()
        assert b["parents"][ct.c_uint(os.getpid())].value == os.getppid()
        fields = b.trace_fields(nonblocking=True)
        while fields[0] is not None and fields[1] != os.getpid():
            fields = b.trace_fields(nonblocking=True)
        assert fields[5] == b"ppid %d 1" % os.getppid()


def test_tracepoint_function_named_for_its_hook_attaches_itself():
    text = r"""
BPF_ARRAY(hits, u64, 1);
int tracepoint__syscalls__sys_enter_getppid(struct tracepoint__syscalls__sys_enter_getppid *args) {
    if ((bpf_get_current_pid_tgid() >> 32) == TARGET_PID)
        hits.increment(0);
    return 0;
}
"""
    with BPF(text=text, cflags=["-DTARGET_PID=%d" % os.getpid()]) as b:
        assert b.num_open_tracepoints() == 1
        os.getppid()
        assert b["hits"][0].value == 1


def test_tracepoint_regex_attaches_every_match():
    with counter() as b:
        b.attach_tracepoint(tp_re="syscalls:sys_enter_getppid|syscalls:sys_enter_getpgrp",
                            fn_name="count")
        assert b.num_open_tracepoints() == 2
        os.getppid()
        os.getpgrp()
        assert b["hits"][0].value == 2

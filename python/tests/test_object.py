"""Beyond BCC: libbpf-style objects from Python, records as dicts."""

import os

from bpfhook import Object, compile

SOURCE = r"""
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct event {
    __u32 pid;
    char comm[16];
};

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 4096 * 4);
} events SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __type(key, __u32);
    __type(value, __u64);
    __uint(max_entries, 64);
} counts SEC(".maps");

const volatile __u32 target_pid = 0;

SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
    __u32 pid = bpf_get_current_pid_tgid() >> 32;
    if (pid != TARGET_PID)
        return 0;
    struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (!e)
        return 0;
    e->pid = pid;
    bpf_get_current_comm(e->comm, sizeof(e->comm));
    bpf_ringbuf_submit(e, 0);
    __u64 one = 1, *count = bpf_map_lookup_elem(&counts, &pid);
    if (count)
        __sync_fetch_and_add(count, 1);
    else
        bpf_map_update_elem(&counts, &pid, &one, BPF_NOEXIST);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
"""


def test_object_attach_records_as_dicts(tmp_path):
    source = tmp_path / "getppid.bpf.c"
    source.write_text(SOURCE)
    obj = compile(source, ["-DTARGET_PID=%d" % os.getpid()])
    with Object(obj).attach() as o:
        assert o.programs() == ["on_getppid"]
        os.getppid()
        os.getppid()
        records = []
        for _ in range(10):
            records += o.records(timeout_ms=100)
            if len(records) >= 2:
                break
        assert records[0][0] == "events"
        assert records[0][1]["pid"] == os.getpid()
        assert records[0][1]["comm"] == open("/proc/self/comm").read().strip()[:15]
        assert o.map_items("counts") == [(os.getpid(), 2)]

#!/usr/bin/env python3
# opensnoop in its tracepoint form, written for bpfhook's tests: one line per openat().
# USAGE: opensnoop.py [-d SECONDS]
import argparse
import time

from bpfhook.bcc import BPF

parser = argparse.ArgumentParser()
parser.add_argument("-d", "--duration", type=float, default=5)
args = parser.parse_args()

b = BPF(text=r"""
#include <uapi/linux/ptrace.h>
#include <uapi/linux/limits.h>
#include <linux/sched.h>

struct pending_t {
    u64 id;
    char comm[TASK_COMM_LEN];
    const char *fname;
};

struct data_t {
    u64 id;
    u64 ts;
    u32 uid;
    int ret;
    char comm[TASK_COMM_LEN];
    char fname[NAME_MAX];
};

BPF_HASH(pending, u64, struct pending_t);
BPF_PERF_OUTPUT(events);

TRACEPOINT_PROBE(syscalls, sys_enter_openat) {
    struct pending_t p = {};
    u64 id = bpf_get_current_pid_tgid();
    if (bpf_get_current_comm(&p.comm, sizeof(p.comm)) == 0) {
        p.id = id;
        p.fname = args->filename;
        pending.update(&id, &p);
    }
    return 0;
}

TRACEPOINT_PROBE(syscalls, sys_exit_openat) {
    u64 id = bpf_get_current_pid_tgid();
    struct pending_t *p = pending.lookup(&id);
    if (p == 0)
        return 0;
    struct data_t data = {};
    bpf_probe_read_kernel(&data.comm, sizeof(data.comm), p->comm);
    bpf_probe_read_user_str(&data.fname, sizeof(data.fname), (void *)p->fname);
    data.id = p->id;
    data.ts = bpf_ktime_get_ns() / 1000;
    data.uid = bpf_get_current_uid_gid();
    data.ret = args->ret;
    events.perf_submit(args, &data, sizeof(data));
    pending.delete(&id);
    return 0;
}
""")



def print_event(cpu, data, size):
    event = b["events"].event(data)
    fd, err = (event.ret, 0) if event.ret >= 0 else (-1, -event.ret)
    print("%-6d %-16s %4d %3d %s" % (event.id >> 32, event.comm.decode(errors="replace"), fd,
                                     err, event.fname.decode(errors="replace")), flush=True)


b["events"].open_perf_buffer(print_event, page_cnt=64)
print("%-6s %-16s %4s %3s %s" % ("PID", "COMM", "FD", "ERR", "PATH"), flush=True)
end = time.time() + args.duration
while time.time() < end:
    b.perf_buffer_poll(timeout=100)

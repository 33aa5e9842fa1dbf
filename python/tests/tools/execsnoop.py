#!/usr/bin/env python3
# execsnoop in its tracepoint form, written for bpfhook's tests: one line per execve(),
# the parent pid read through task->real_parent (BCC's implicit kernel reads).
# USAGE: execsnoop.py [-d SECONDS]
import argparse
import time

from bpfhook.bcc import BPF

parser = argparse.ArgumentParser()
parser.add_argument("-d", "--duration", type=float, default=5)
args = parser.parse_args()

b = BPF(text=r"""
#include <linux/sched.h>

struct data_t {
    u32 pid;
    u32 ppid;
    char comm[TASK_COMM_LEN];
    char filename[128];
};

BPF_RINGBUF_OUTPUT(events, 16);

TRACEPOINT_PROBE(syscalls, sys_enter_execve) {
    struct data_t *data = events.ringbuf_reserve(sizeof(struct data_t));
    if (!data)
        return 0;
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    data->pid = bpf_get_current_pid_tgid() >> 32;
    data->ppid = task->real_parent->tgid;
    bpf_get_current_comm(&data->comm, sizeof(data->comm));
    bpf_probe_read_user_str(&data->filename, sizeof(data->filename), args->filename);
    events.ringbuf_submit(data, 0);
    return 0;
}
""")



def print_event(ctx, data, size):
    event = b["events"].event(data)
    print("%-16s %-7d %-7d %s" % (event.comm.decode(errors="replace"), event.pid, event.ppid,
                                  event.filename.decode(errors="replace")), flush=True)


b["events"].open_ring_buffer(print_event)
print("%-16s %-7s %-7s %s" % ("PCOMM", "PID", "PPID", "FILENAME"), flush=True)
end = time.time() + args.duration
while time.time() < end:
    b.ring_buffer_poll(timeout=100)

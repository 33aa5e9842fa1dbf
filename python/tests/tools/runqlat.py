#!/usr/bin/env python3
# runqlat in its tracepoint form, written for bpfhook's tests: time from wakeup to running,
# as a log2 histogram of microseconds (per-CPU array of slots).
# USAGE: runqlat.py [-d SECONDS]
import argparse
import time

from bpfhook.bcc import BPF

parser = argparse.ArgumentParser()
parser.add_argument("-d", "--duration", type=float, default=5)
args = parser.parse_args()

b = BPF(text=r"""
#include <linux/sched.h>

BPF_HASH(start, u32, u64);
BPF_HISTOGRAM(dist);

static int trace_enqueue(u32 pid) {
    if (pid == 0)
        return 0;
    u64 ts = bpf_ktime_get_ns();
    start.update(&pid, &ts);
    return 0;
}

TRACEPOINT_PROBE(sched, sched_wakeup) {
    return trace_enqueue(args->pid);
}

TRACEPOINT_PROBE(sched, sched_wakeup_new) {
    return trace_enqueue(args->pid);
}

TRACEPOINT_PROBE(sched, sched_switch) {
    u32 pid = args->next_pid;
    u64 *tsp = start.lookup(&pid);
    if (tsp == 0)
        return 0;
    u64 delta = (bpf_ktime_get_ns() - *tsp) / 1000;
    dist.increment(bpf_log2l(delta));
    start.delete(&pid);
    return 0;
}
""")

print("Tracing run queue latency...", flush=True)
time.sleep(args.duration)
print()
b["dist"].print_log2_hist("usecs")

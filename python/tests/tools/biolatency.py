#!/usr/bin/env python3
# biolatency in its tracepoint form, written for bpfhook's tests: block I/O latency as a
# log2 histogram of microseconds, printed once at the end.
# USAGE: biolatency.py [-d SECONDS]
import argparse
import time

from bpfhook.bcc import BPF

parser = argparse.ArgumentParser()
parser.add_argument("-d", "--duration", type=float, default=5)
args = parser.parse_args()

b = BPF(text=r"""
#include <uapi/linux/ptrace.h>
#include <linux/blk-mq.h>

struct request_key {
    u32 dev;
    u64 sector;
};

BPF_HASH(start, struct request_key, u64);
BPF_HISTOGRAM(dist);

TRACEPOINT_PROBE(block, block_rq_issue) {
    struct request_key key = { .dev = args->dev, .sector = args->sector };
    u64 ts = bpf_ktime_get_ns();
    start.update(&key, &ts);
    return 0;
}

TRACEPOINT_PROBE(block, block_rq_complete) {
    struct request_key key = { .dev = args->dev, .sector = args->sector };
    u64 *tsp = start.lookup(&key);
    if (tsp == 0)
        return 0;
    u64 delta = (bpf_ktime_get_ns() - *tsp) / 1000;
    dist.increment(bpf_log2l(delta));
    start.delete(&key);
    return 0;
}
""")

print("Tracing block device I/O...", flush=True)
time.sleep(args.duration)
print()
b["dist"].print_log2_hist("usecs")

#!/usr/bin/env python3
"""Start-to-"attached" latency of `bpfhook run OBJ` against `bpftool prog load OBJ` (+ attach
with bpftool where it can) on the same object, in one run. Prints median and p90 in ms, and
peak RSS of each tool."""
import os, statistics, subprocess, sys, time
from rss import gnu_time_mb, hwm_mb

def bpfhook_attach(bpfhook, obj):
    t0 = time.perf_counter()
    p = subprocess.Popen([bpfhook, "run", obj, "--no-printk"], stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    t = time.perf_counter() - t0
    assert line.startswith("attached"), line
    rss = hwm_mb(p.pid)
    p.terminate()
    p.wait()
    p.stdout.close()
    return t, rss

def bpftool_load(obj):
    pin = f"/sys/fs/bpf/bhbench{os.getpid()}"
    t0 = time.perf_counter()
    subprocess.run(["bpftool", "prog", "load", obj, pin], check=True)
    t = time.perf_counter() - t0
    os.unlink(pin)
    rss = gnu_time_mb(["bpftool", "prog", "load", obj, pin])
    os.unlink(pin)
    return t, rss

def report(name, samples):
    times = sorted(s[0] * 1000 for s in samples)
    rss = max(s[1] for s in samples)
    print(f"{name:28s} median {statistics.median(times):7.1f} ms  p90 {times[int(len(times)*0.9)-1]:7.1f} ms  peak RSS {rss:5.1f} MB")
    return statistics.median(times)

if __name__ == "__main__":
    bpfhook, obj, n = sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 20
    a = report("bpfhook run → attached", [bpfhook_attach(bpfhook, obj) for _ in range(n)])
    b = report("bpftool prog load", [bpftool_load(obj) for _ in range(n)])
    print(f"ratio bpfhook/bpftool: {a / b:.2f}")

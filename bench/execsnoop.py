#!/usr/bin/env python3
"""Start-to-first-event latency and peak RSS of exec tracers, in one run: start the tool, exec a
marker command every 2 ms, and time the first output line that names the marker. The tool is
then stopped with SIGINT, its peak RSS read just before."""
import os, select, shutil, signal, statistics, subprocess, sys, time
from rss import hwm_mb

def measure(argv, n):
    latencies, peaks = [], []
    for i in range(n):
        marker = f"bhmark{os.getpid()}x{i}"
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0)
        buf, seen = b"", None
        while seen is None and time.perf_counter() - t0 < 30:
            if p.poll() is not None:
                raise SystemExit(f"exited with {p.returncode} before tracing")
            subprocess.run(["/bin/echo", marker], stdout=subprocess.DEVNULL)
            r, _, _ = select.select([p.stdout], [], [], 0.002)
            if r:
                chunk = os.read(p.stdout.fileno(), 65536)
                buf += chunk
                if marker.encode() in buf:
                    seen = time.perf_counter() - t0
        peak = hwm_mb(p.pid)
        p.send_signal(signal.SIGINT)
        p.wait()
        p.stdout.close()
        if seen is None:
            raise SystemExit(f"{argv[0]}: marker never seen")
        latencies.append(seen * 1000)
        peaks.append(peak)
    return statistics.median(latencies), max(peaks)

bpfhook = sys.argv[1] if len(sys.argv) > 1 else "target/release/bpfhook"
n = int(sys.argv[2]) if len(sys.argv) > 2 else 5
tools = [("bpfhook execsnoop", [bpfhook, "execsnoop"])]
if shutil.which("bpftrace"):
    tools.append(("bpftrace one-liner", ["bpftrace", "-e",
        'tracepoint:syscalls:sys_enter_execve { printf("%d %s\\n", pid, str(args->filename)); join(args->argv); }']))
if shutil.which("execsnoop-bpfcc"):
    tools.append(("BCC execsnoop-bpfcc", ["execsnoop-bpfcc"]))
results = {}
for name, argv in tools:
    try:
        results[name] = measure(argv, n)
    except SystemExit as e:
        print(f"{name}: failed ({e})")
        continue
    print(f"{name:24s} start→first event median {results[name][0]:8.1f} ms   peak RSS {results[name][1]:7.1f} MB")
if "bpftrace one-liner" in results:
    ours, theirs = results["bpfhook execsnoop"], results["bpftrace one-liner"]
    print(f"bpfhook / bpftrace: time {ours[0] / theirs[0]:.3f}, memory {ours[1] / theirs[1]:.3f}")

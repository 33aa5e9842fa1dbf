#!/usr/bin/env python3
"""`bpfhook run hello.bpf.c` to its "attached" line: first run (clang + vmlinux.h on a cold
cache), first run with vmlinux.h already cached (clang only), and the cached run (no clang)."""
import os, shutil, statistics, subprocess, sys, tempfile, time

def to_attached(bpfhook, source, cache):
    env = dict(os.environ, XDG_CACHE_HOME=cache)
    t0 = time.perf_counter()
    p = subprocess.Popen([bpfhook, "run", source, "--no-printk"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True, env=env)
    line = p.stdout.readline()
    t = time.perf_counter() - t0
    assert line.startswith("attached"), line
    p.terminate(); p.wait(); p.stdout.close()
    return t * 1000

bpfhook, source, n = sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 10
cold, clang_only, cached = [], [], []
for _ in range(n):
    cache = tempfile.mkdtemp(prefix="bpfhook-bench-")
    cold.append(to_attached(bpfhook, source, cache))
    shutil.rmtree(os.path.join(cache, "bpfhook", "objects"))
    clang_only.append(to_attached(bpfhook, source, cache))
    cached.append(to_attached(bpfhook, source, cache))
    shutil.rmtree(cache)
for name, xs in [("cold cache (vmlinux.h + clang)", cold), ("vmlinux.h cached, clang runs", clang_only), ("cached object, no clang", cached)]:
    print(f"{name:34s} median {statistics.median(xs):7.1f} ms")
print(f"cached / first: {statistics.median(cached) / statistics.median(cold):.3f}  "
      f"cached / clang-only: {statistics.median(cached) / statistics.median(clang_only):.3f}")

#!/usr/bin/env bash
# Start-up of a BCC-style hello world to its first printed line: `from bpfhook.bcc import BPF`
# (warm compile cache, and once with a cold one) against bpftrace's one-liner, in one run;
# peak RSS of each when the line arrives. BCC itself is tried once and its failure reported.
# USAGE: bench/python_hello.sh [RUNS]   (PYTHON= an interpreter with bpfhook installed;
# default: the venv `cargo test -p bpfhook-python` makes under target/tmp)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-target/tmp/python-venv/bin/python}
RUNS=${1:-10}
exec "$PYTHON" - "$RUNS" <<'PY'
import os, statistics, subprocess, sys, tempfile, threading, time
sys.path.insert(0, "bench")
from rss import hwm_mb

RUNS = int(sys.argv[1])
HELLO = r'''
from bpfhook.bcc import BPF
b = BPF(text="""
int hello(void *ctx) {
    bpf_trace_printk("Hello, World!\\n");
    return 0;
}
""")
b.attach_tracepoint(tp="syscalls:sys_enter_execve", fn_name="hello")
b.trace_print(fmt="{5}")
'''
BCC = HELLO.replace("from bpfhook.bcc import BPF", "from bcc import BPF")
BPFTRACE = ["bpftrace", "-e", 'tracepoint:syscalls:sys_enter_execve { printf("Hello, World!\\n"); }']


def exec_loop(stop):
    """execve()s every 5 ms, so the first line comes as soon as the probe is attached."""
    while not stop.is_set():
        subprocess.run(["/bin/true"])
        time.sleep(0.005)


def first_line(argv, env=None):
    stop = threading.Event()
    trigger = threading.Thread(target=exec_loop, args=(stop,))
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    trigger.start()
    try:
        while True:
            line = p.stdout.readline()
            if not line:
                raise RuntimeError("%s ended: %s" % (argv[0], p.stderr.read()[-500:]))
            if "Hello, World!" in line:
                return time.perf_counter() - t0, hwm_mb(p.pid)
    finally:
        stop.set()
        trigger.join()
        p.terminate()
        p.wait()


def report(name, samples):
    times = sorted(t for t, _ in samples)
    p90 = times[min(len(times) - 1, int(len(times) * 0.9))]
    print("%-34s median %7.1f ms  p90 %7.1f ms  peak RSS %5.1f MB  (%d runs)" % (
        name, statistics.median(times) * 1000, p90 * 1000,
        max(r for _, r in samples), len(samples)))


script = tempfile.NamedTemporaryFile("w", suffix=".py", delete=False)
script.write(HELLO)
script.close()
cold_cache = tempfile.mkdtemp(prefix="bpfhook-bench-cache-")
try:
    first_line([sys.executable, script.name])  # warm the compile cache
    report("bpfhook.bcc hello (warm cache)", [first_line([sys.executable, script.name]) for _ in range(RUNS)])
    env = dict(os.environ, XDG_CACHE_HOME=cold_cache)
    report("bpfhook.bcc hello (cold cache)", [first_line([sys.executable, script.name], env)])
    report("bpftrace one-liner", [first_line(BPFTRACE) for _ in range(RUNS)])
finally:
    os.unlink(script.name)
    subprocess.run(["rm", "-rf", cold_cache])

bcc = subprocess.run(["/usr/bin/python3", "-c", BCC], capture_output=True, text=True, timeout=60)
reason = [l for l in bcc.stderr.splitlines() if l.strip()]
print("BCC (python3-bpfcc):", "cannot run here: " + " / ".join(reason[:2] + reason[-1:])
      if bcc.returncode else "ran")
PY

#!/usr/bin/env python3
"""`bpfhook trace` against bpftrace on one tracepoint script, same run: time from start until the
tool says its probes are attached (the `__BPFTRACE_NOTIFY_PROBES_ATTACHED` line both print when
the environment asks: bpfhook on stdout, bpftrace 0.17 on stderr; bpftrace 0.17's
`Attaching N probes...` comes *before* it attaches, so that is no marker), peak RSS then, and the per-event cost of each tool's
generated program (the kernel's run_time_ns / run_cnt over a tight openat loop).

usage: trace_attach.py BPFHOOK [RUNS [OPENS]]"""
import ctypes, json, os, signal, statistics, subprocess, sys, time
from rss import hwm_mb

SCRIPT = "tracepoint:syscalls:sys_enter_openat { @[comm] = count(); }"
NOTIFY = "__BPFTRACE_NOTIFY_PROBES_ATTACHED"
SYS_BPF = 321  # x86_64
BPF_ENABLE_STATS = 32
BPF_STATS_RUN_TIME = 0


def enable_stats():
    """BPF_ENABLE_STATS: run-time accounting stays on while the returned fd is open, whatever
    other users of this machine do with the kernel.bpf_stats_enabled sysctl."""
    libc = ctypes.CDLL(None, use_errno=True)
    attr = (ctypes.c_uint32 * 16)(BPF_STATS_RUN_TIME)
    fd = libc.syscall(SYS_BPF, BPF_ENABLE_STATS, attr, ctypes.sizeof(attr))
    if fd < 0:
        raise OSError(ctypes.get_errno(), "BPF_ENABLE_STATS")
    return fd


class Tracer:
    """One tool running SCRIPT, started and waited for until attached; stopped with SIGINT."""

    def __init__(self, argv):
        env = dict(os.environ, **{NOTIFY: "1"})
        self.t0 = time.perf_counter()
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     env=env, text=True)
        for line in self.proc.stdout:
            if line.strip() == NOTIFY:
                break
        else:
            raise RuntimeError(f"{argv[0]} exited with {self.proc.wait()} before attaching")
        self.attach_s = time.perf_counter() - self.t0
        self.rss_mb = hwm_mb(self.proc.pid)

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        self.proc.communicate()  # the maps it prints at exit


def tracepoint_prog(bpfhook, pid):
    """(id, run_time_ns, run_cnt) of the tracepoint program the process `pid` holds."""
    out = subprocess.run([bpfhook, "prog", "list", "--json"], capture_output=True, text=True,
                         check=True).stdout
    progs = [p for p in json.loads(out)
             if p.get("type") == "tracepoint" and any(h["pid"] == pid for h in p.get("pids", []))]
    if len(progs) != 1:
        raise RuntimeError(f"pid {pid} holds {len(progs)} tracepoint programs")
    p = progs[0]
    return p["id"], p.get("run_time_ns") or 0, p.get("run_cnt") or 0


def open_loop(n):
    for _ in range(n):
        os.close(os.open("/dev/null", os.O_RDONLY))


def per_event_ns(bpfhook, tracer, opens):
    """Cost per run of the tracer's program over `opens` opens of /dev/null (deltas, so runs
    counted while someone else had stats on do not count)."""
    _, time0, cnt0 = tracepoint_prog(bpfhook, tracer.proc.pid)
    open_loop(opens)
    _, time1, cnt1 = tracepoint_prog(bpfhook, tracer.proc.pid)
    if cnt1 - cnt0 < opens:
        raise RuntimeError(f"only {cnt1 - cnt0} runs counted for {opens} opens")
    return (time1 - time0) / (cnt1 - cnt0)


def main():
    bpfhook = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    opens = int(sys.argv[3]) if len(sys.argv) > 3 else 200_000
    tools = {
        "bpfhook trace": [bpfhook, "trace", "-e", SCRIPT],
        "bpftrace": ["bpftrace", "-e", SCRIPT],
    }
    samples = {name: [] for name in tools}
    stats_fd = enable_stats()
    try:
        for _ in range(runs):  # the tools alternate so that load on the machine hits both
            for name, argv in tools.items():
                tracer = Tracer(argv)
                try:
                    cost = per_event_ns(bpfhook, tracer, opens)
                finally:
                    tracer.stop()
                samples[name].append((tracer.attach_s * 1000, tracer.rss_mb, cost))
    finally:
        os.close(stats_fd)
    print(f"| tool | start → attached (median) | peak RSS at attach | ns per event (median of {runs} × {opens} openat) |")
    print("|---|---|---|---|")
    medians = {}
    for name, rows in samples.items():
        attach = statistics.median(r[0] for r in rows)
        rss = max(r[1] for r in rows)
        cost = statistics.median(r[2] for r in rows)
        medians[name] = (attach, rss, cost)
        print(f"| {name} | {attach:.1f} ms | {rss:.1f} MB | {cost:.1f} |")
    ours, theirs = medians["bpfhook trace"], medians["bpftrace"]
    print(f"\nratios bpfhook/bpftrace: attach {ours[0] / theirs[0]:.3f}, RSS {ours[1] / theirs[1]:.3f}, "
          f"per event {ours[2] / theirs[2]:.2f}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""bpfhook's ready-made tools against the same tools run by bpftrace 0.17, same run:

- start → ready and peak RSS at ready, for opensnoop, biolatency and profile. "Ready" is the
  moment everything is attached: for bpfhook the tool's first line (printed once attached),
  for bpftrace its `__BPFTRACE_NOTIFY_PROBES_ATTACHED` line (0.17 prints BEGIN's header and
  `Attaching N probes...` before it attaches).
- the per-event cost of opensnoop's programs: with BPF_ENABLE_STATS held, the kernel's
  run_time_ns delta summed over every tracepoint program the tool holds, divided by the number
  of open()s made (so one open = its enter and its exit program).

bpftrace runs its own /usr/sbin/opensnoop.bt; its biolatency.bt needs kprobes (absent on this
kernel) and there is no profile.bt, so for those two bpftrace runs bpfhook's embedded script
(crates/bpfhook-tools/scripts/*.bt are valid bpftrace 0.17 too): the same program both ways.

usage: tools.py BPFHOOK [RUNS [OPENS]]"""
import os, signal, statistics, subprocess, sys, threading, time
from rss import hwm_mb
from trace_attach import enable_stats, open_loop
import json

NOTIFY = "__BPFTRACE_NOTIFY_PROBES_ATTACHED"
SCRIPTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "crates",
                       "bpfhook-tools", "scripts")


def tools(bpfhook):
    return {
        "opensnoop": ([bpfhook, "opensnoop"], ["bpftrace", "/usr/sbin/opensnoop.bt"]),
        "biolatency": ([bpfhook, "biolatency"],
                       ["bpftrace", os.path.join(SCRIPTS, "biolatency.bt")]),
        "profile": ([bpfhook, "profile"],
                    ["bpftrace", os.path.join(SCRIPTS, "profile.bt"), "0", "0"]),
    }


class Tool:
    """A tool started and waited for until ready; its output drained; stopped with SIGINT."""

    def __init__(self, argv, marker):
        env = dict(os.environ, **{NOTIFY: "1"})
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     env=env, text=True)
        for line in self.proc.stdout:
            if marker is None or line.strip() == marker:
                break
        else:
            raise RuntimeError(f"{argv} exited with {self.proc.wait()} before it was ready")
        self.ready_ms = (time.perf_counter() - t0) * 1000
        self.rss_mb = hwm_mb(self.proc.pid)
        self.drain = threading.Thread(target=self.proc.stdout.read, daemon=True)
        self.drain.start()

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            # bpftrace 0.17 sometimes prints its maps on Ctrl-C and then hangs.
            print(f"note: pid {self.proc.pid} ({self.proc.args[0]}) hung after SIGINT; killed",
                  file=sys.stderr)
            self.proc.kill()
            self.proc.wait()
        self.drain.join()


def programs_run_time(bpfhook, pid):
    """(run_time_ns, run_cnt) summed over the tracepoint programs process `pid` holds."""
    out = subprocess.run([bpfhook, "prog", "list", "--json"], capture_output=True, text=True,
                         check=True).stdout
    progs = [p for p in json.loads(out)
             if p.get("type") == "tracepoint" and any(h["pid"] == pid for h in p.get("pids", []))]
    if not progs:
        raise RuntimeError(f"pid {pid} holds no tracepoint program")
    return sum(p.get("run_time_ns") or 0 for p in progs), sum(p.get("run_cnt") or 0 for p in progs)


def ns_per_open(bpfhook, tool, opens):
    time0, _ = programs_run_time(bpfhook, tool.proc.pid)
    open_loop(opens)
    time1, _ = programs_run_time(bpfhook, tool.proc.pid)
    return (time1 - time0) / opens


def main():
    bpfhook = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    opens = int(sys.argv[3]) if len(sys.argv) > 3 else 100_000
    rows = {}
    stats_fd = enable_stats()
    try:
        for _ in range(runs):  # alternate the tools so load on the machine hits both alike
            for name, (ours, theirs) in tools(bpfhook).items():
                for who, argv, marker in (("bpfhook", ours, None), ("bpftrace", theirs, NOTIFY)):
                    tool = Tool(argv, marker)
                    try:
                        cost = ns_per_open(bpfhook, tool, opens) if name == "opensnoop" else None
                    finally:
                        tool.stop()
                    rows.setdefault((name, who), []).append((tool.ready_ms, tool.rss_mb, cost))
    finally:
        os.close(stats_fd)
    print(f"| tool | bpfhook start → ready | bpftrace 0.17 | ratio | bpfhook peak RSS | "
          f"bpftrace | ratio | ns per open() (enter + exit), bpfhook | bpftrace |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in tools(bpfhook):
        ours, theirs = rows[(name, "bpfhook")], rows[(name, "bpftrace")]
        ready = [statistics.median(r[0] for r in x) for x in (ours, theirs)]
        rss = [max(r[1] for r in x) for x in (ours, theirs)]
        cost = ["–", "–"]
        if name == "opensnoop":
            cost = [f"{statistics.median(r[2] for r in x):.0f}" for x in (ours, theirs)]
        print(f"| {name} | {ready[0]:.1f} ms | {ready[1]:.1f} ms | {ready[0] / ready[1]:.3f} | "
              f"{rss[0]:.1f} MB | {rss[1]:.1f} MB | {rss[0] / rss[1]:.3f} | {cost[0]} | {cost[1]} |")
    print(f"\n{runs} runs each (medians; RSS: the largest), {opens} opens of /dev/null per "
          f"opensnoop run")


if __name__ == "__main__":
    main()

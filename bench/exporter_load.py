#!/usr/bin/env python3
"""Drives one running `bpfhook exporter` (started by exporter.sh with the bench configs):
fills 10k series, measures scrape latency alone, then N concurrent clients scraping for D
seconds while a marker command execs in a loop: failed scrapes, the marker's count against
the execs made (no lost count), exporter RSS before/after and CPU time used."""
import http.client, os, shutil, statistics, subprocess, sys, tempfile, threading, time

def scrape(address, timeout=10):
    host, port = address.rsplit(":", 1)
    c = http.client.HTTPConnection(host, int(port), timeout=timeout)
    t0 = time.perf_counter()
    c.request("GET", "/metrics")
    r = c.getresponse()
    body = r.read().decode()
    c.close()
    return r.status, body, time.perf_counter() - t0

def sample(body, name, label):
    for line in body.splitlines():
        if line.startswith(name + "{") and label in line:
            return float(line.rsplit(" ", 1)[1])
    return None

def rss_mb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0

def cpu_s(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]

def main():
    address, pid = sys.argv[1], int(sys.argv[2])
    clients = int(sys.argv[3]) if len(sys.argv) > 3 else 50
    seconds = float(sys.argv[4]) if len(sys.argv) > 4 else 10
    for _ in range(10000):
        os.getppid()
    _, body, _ = scrape(address)
    series = sum(1 for l in body.splitlines() if l.startswith("ebpf_exporter_bench_series_total{"))
    print(f"series in bench_series: {series}")

    alone = [scrape(address)[2] * 1000 for _ in range(30)]
    print(f"scrape latency, one client, {series} series: median {statistics.median(alone):.1f} ms, "
          f"p90 {pct(alone, 0.9):.1f} ms, size {len(body) / 1024:.0f} KiB")

    # Reference for the raw map read (ebpf_exporter cannot be built here): bpftool reading the
    # same 10k-entry map, key by key, as JSON.
    import json
    maps = json.loads(subprocess.run(["bpftool", "map", "show", "-j"], capture_output=True, text=True, check=True).stdout)
    ids = [m["id"] for m in maps if m.get("name") == "bench_series"]
    if ids:
        runs = []
        for _ in range(5):
            t0 = time.perf_counter()
            subprocess.run(["bpftool", "map", "dump", "id", str(ids[-1]), "-j"], stdout=subprocess.DEVNULL, check=True)
            runs.append((time.perf_counter() - t0) * 1000)
        print(f"reference: bpftool map dump -j of the same map: median {statistics.median(runs):.1f} ms")

    tmp = tempfile.mkdtemp()
    comm = f"bhload{os.getpid() % 100000}"
    marker = os.path.join(tmp, comm)
    shutil.copy("/usr/bin/true", marker)
    stop = threading.Event()
    execs = [0]
    def exec_loop():
        while not stop.is_set():
            subprocess.run([marker], check=True)
            execs[0] += 1
    latencies, failures = [], [0]
    lock = threading.Lock()
    def client():
        while not stop.is_set():
            try:
                status, _, t = scrape(address)
                ok = status == 200
            except Exception:
                ok, t = False, 0
            with lock:
                if ok:
                    latencies.append(t * 1000)
                else:
                    failures[0] += 1
    rss_before, cpu_before = rss_mb(pid), cpu_s(pid)
    threads = [threading.Thread(target=exec_loop)] + [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    rss_mid = []
    end = time.time() + seconds
    while time.time() < end:
        time.sleep(1)
        rss_mid.append(rss_mb(pid))
    stop.set()
    for t in threads:
        t.join()
    cpu_used = cpu_s(pid) - cpu_before
    _, body, _ = scrape(address)
    counted = sample(body, "ebpf_exporter_exec_count_total", f'comm="{comm}"')
    print(f"load: {clients} clients for {seconds:.0f} s: {len(latencies)} scrapes, {failures[0]} failed, "
          f"median {statistics.median(latencies):.1f} ms, p99 {pct(latencies, 0.99):.1f} ms")
    print(f"marker execs made {execs[0]}, counted {counted:.0f}" + ("" if counted == execs[0] else "  <-- MISMATCH"))
    print("exporter RSS each second (MB): " + " ".join(f"{r:.1f}" for r in rss_mid))
    print(f"exporter RSS before {rss_before:.1f} MB, during max {max(rss_mid):.1f} MB, after {rss_mb(pid):.1f} MB; "
          f"CPU {cpu_used:.2f} s over {seconds:.0f} s ({cpu_used / seconds * 100:.0f}% of one core)")
    shutil.rmtree(tmp)
    sys.exit(1 if failures[0] or counted != execs[0] else 0)

def per_event():
    """The /programs page on stdin → run count and average ns per run of each program."""
    import json
    for config in json.load(sys.stdin)["configs"]:
        for p in config["programs"]:
            n, t = p["run_cnt"] or 0, p["run_time_ns"] or 0
            print(f"{config['name']:16s} {p['name']:20s} runs {n:8d}  {t / n if n else 0:7.0f} ns/run")

if __name__ == "__main__":
    per_event() if sys.argv[1:] == ["--per-event"] else main()

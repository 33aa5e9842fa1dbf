#!/usr/bin/env bash
# bpfhook exporter: scrape latency, CPU and RSS with 10k series; 50 clients scraping for 10 s
# while execs flow (no failed scrape, no lost count, memory flat); per-event cost of the
# shipped examples' programs (BPF_ENABLE_STATS, from /programs).
#
# ebpf_exporter is not compared: it needs Go >= 1.21 (go.mod) and libbpfgo's vendored libbpf
# built from its git submodule; Debian here offers golang-go 1.19 and there is no GitHub access.
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-1} cargo build --release -q -p bpfhook-cli
BIN=target/release/bpfhook
CLIENTS=${CLIENTS:-50}
SECONDS_LOAD=${SECONDS_LOAD:-10}

log=$(mktemp)
# `exec` so $! is the exporter itself, not a subshell around it.
(exec $BIN exporter --config.dir bench/exporter --config.names series,exec \
    --web.listen-address 127.0.0.1:0 2>"$log") &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 100); do grep -q "listening on" "$log" && break; sleep 0.1; done
address=$(grep -o 'http://[0-9.:]*' "$log" | head -1 | sed 's|http://||')
echo "== exporter pid $pid on $address (RSS $(awk '/VmRSS/ {print $2/1024 " MB"}' /proc/$pid/status))"
python3 bench/exporter_load.py "$address" "$pid" "$CLIENTS" "$SECONDS_LOAD"
kill $pid; wait $pid || true

echo "== per-event cost of the examples' programs (run for 10 s with run-time stats on)"
(exec $BIN exporter --config.dir examples/exporter --config.names exec,timers,biolatency,tcp-retransmit \
    --web.listen-address 127.0.0.1:0 2>"$log") &
pid=$!
for _ in $(seq 100); do grep -q "listening on" "$log" && break; sleep 0.1; done
address=$(grep -o 'http://[0-9.:]*' "$log" | head -1 | sed 's|http://||')
# Some activity for each: execs, disk writes with fsync, timers happen by themselves.
for i in $(seq 200); do /bin/true; done
dd if=/dev/zero of=/tmp/bhbench.$$ bs=4k count=2000 oflag=dsync status=none; rm -f /tmp/bhbench.$$
sleep 10
curl -s "http://$address/programs" | python3 bench/exporter_load.py --per-event

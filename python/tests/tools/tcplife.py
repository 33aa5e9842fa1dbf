#!/usr/bin/env python3
# tcplife in its tracepoint form, written for bpfhook's tests: one line per closed TCP
# session with ports, bytes each way (read from struct tcp_sock: implicit kernel reads)
# and its lifetime.
# USAGE: tcplife.py [-d SECONDS]
import argparse
import socket
import struct
import time

from bpfhook.bcc import BPF

parser = argparse.ArgumentParser()
parser.add_argument("-d", "--duration", type=float, default=5)
args = parser.parse_args()

b = BPF(text=r"""
#include <net/sock.h>
#include <net/tcp_states.h>

#define AF_INET 2
#define IPPROTO_TCP 6
#define STATE_SYN_SENT 2
#define STATE_LISTEN 10
#define STATE_CLOSE 7

struct ipv4_data_t {
    u64 ts_us;
    u32 pid;
    u32 saddr;
    u32 daddr;
    u16 lport;
    u16 dport;
    u64 rx_b;
    u64 tx_b;
    u64 span_us;
    char task[TASK_COMM_LEN];
};

BPF_HASH(birth, const void *, u64);
BPF_HASH(whoami, const void *, u32);
BPF_PERF_OUTPUT(ipv4_events);

TRACEPOINT_PROBE(sock, inet_sock_set_state) {
    if (args->protocol != IPPROTO_TCP || args->family != AF_INET)
        return 0;
    const void *sk = args->skaddr;
    if (args->newstate < STATE_SYN_SENT || args->newstate == STATE_LISTEN) {
        u64 ts = bpf_ktime_get_ns();
        birth.update(&sk, &ts);
    }
    if (args->newstate == STATE_SYN_SENT || args->newstate == 3) {
        u32 pid = bpf_get_current_pid_tgid() >> 32;
        whoami.update(&sk, &pid);
    }
    if (args->newstate != STATE_CLOSE)
        return 0;
    u64 *tsp = birth.lookup(&sk);
    if (tsp == 0) {
        whoami.delete(&sk);
        return 0;
    }
    struct tcp_sock *tp = (struct tcp_sock *)sk;
    struct ipv4_data_t data = {};
    data.span_us = (bpf_ktime_get_ns() - *tsp) / 1000;
    data.rx_b = tp->bytes_received;
    data.tx_b = tp->bytes_acked;
    data.ts_us = bpf_ktime_get_ns() / 1000;
    u32 *pidp = whoami.lookup(&sk);
    data.pid = pidp ? *pidp : bpf_get_current_pid_tgid() >> 32;
    __builtin_memcpy(&data.saddr, args->saddr, 4);
    __builtin_memcpy(&data.daddr, args->daddr, 4);
    data.lport = args->sport;
    data.dport = args->dport;
    bpf_get_current_comm(&data.task, sizeof(data.task));
    ipv4_events.perf_submit(args, &data, sizeof(data));
    birth.delete(&sk);
    whoami.delete(&sk);
    return 0;
}
""")



def print_event(cpu, data, size):
    e = b["ipv4_events"].event(data)
    print("%-7d %-12.12s %-15s %-5d %-15s %-5d %5d %5d %.2f tx_b=%d rx_b=%d" % (
        e.pid, e.task.decode(errors="replace"),
        socket.inet_ntop(socket.AF_INET, struct.pack("I", e.saddr)), e.lport,
        socket.inet_ntop(socket.AF_INET, struct.pack("I", e.daddr)), e.dport,
        e.tx_b // 1024, e.rx_b // 1024, float(e.span_us) / 1000, e.tx_b, e.rx_b), flush=True)


b["ipv4_events"].open_perf_buffer(print_event, page_cnt=64)
print("%-7s %-12s %-15s %-5s %-15s %-5s %5s %5s %s" % (
    "PID", "COMM", "LADDR", "LPORT", "RADDR", "RPORT", "TX_KB", "RX_KB", "MS"), flush=True)
end = time.time() + args.duration
while time.time() < end:
    b.perf_buffer_poll(timeout=100)

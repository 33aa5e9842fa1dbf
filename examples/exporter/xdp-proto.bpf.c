/* Packets and bytes arriving on an interface, by IP protocol (XDP, before the stack sees
 * them). Per-CPU counters: no atomics on the packet path; the exporter sums the CPUs. */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include "maps.h"

char LICENSE[] SEC("license") = "GPL";

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
/* Not an IP protocol number: frames that are not IPv4/IPv6 (ARP, LLDP, …). */
#define NOT_IP 256

struct traffic {
    __u64 packets;
    __u64 bytes;
};

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
    __uint(max_entries, 512);
    __type(key, __u32);
    __type(value, struct traffic);
} xdp_traffic SEC(".maps");

static __always_inline __u32 protocol(void *data, void *end)
{
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > end)
        return NOT_IP;
    if (eth->h_proto == bpf_htons(ETH_P_IP)) {
        struct iphdr *ip = (void *)(eth + 1);
        if ((void *)(ip + 1) > end)
            return NOT_IP;
        return ip->protocol;
    }
    if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
        struct ipv6hdr *ip6 = (void *)(eth + 1);
        if ((void *)(ip6 + 1) > end)
            return NOT_IP;
        return ip6->nexthdr;
    }
    return NOT_IP;
}

SEC("xdp")
int count_protocols(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;
    __u32 key = protocol(data, end);
    __u64 length = end - data;

    struct traffic *t = bpf_map_lookup_elem(&xdp_traffic, &key);
    if (t) {
        t->packets++;
        t->bytes += length;
    } else {
        struct traffic first = { .packets = 1, .bytes = length };
        bpf_map_update_elem(&xdp_traffic, &key, &first, BPF_NOEXIST);
    }
    return XDP_PASS;
}

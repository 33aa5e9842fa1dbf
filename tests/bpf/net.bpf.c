/* XDP and TC: count IPv4 UDP packets. Keys: 1 XDP, 2 TC ingress, 3 TC egress. */
#include "counters.h"
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/pkt_cls.h>

static __always_inline int is_udp(void *data, void *data_end)
{
    struct ethhdr *eth = data;
    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > data_end)
        return 0;
    return eth->h_proto == __builtin_bswap16(ETH_P_IP) && ip->protocol == IPPROTO_UDP;
}

SEC("xdp")
int xdp_udp(struct xdp_md *ctx)
{
    if (is_udp((void *)(long)ctx->data, (void *)(long)ctx->data_end))
        bump(1);
    return XDP_PASS;
}

SEC("tc/ingress")
int tc_in_udp(struct __sk_buff *skb)
{
    if (is_udp((void *)(long)skb->data, (void *)(long)skb->data_end))
        bump(2);
    return TC_ACT_OK;
}

SEC("tc/egress")
int tc_out_udp(struct __sk_buff *skb)
{
    if (is_udp((void *)(long)skb->data, (void *)(long)skb->data_end))
        bump(3);
    return TC_ACT_OK;
}

/* sk_msg and sk_skb on a sockmap: the test puts both ends of a TCP connection in sock_map.
 * counts[1]: messages sent (sk_msg); counts[2]: data the verdict passed (sk_skb). */
#include "counters.h"

struct {
    __uint(type, BPF_MAP_TYPE_SOCKMAP);
    __uint(max_entries, 2);
    __type(key, __u32);
    __type(value, __u32);
} sock_map SEC(".maps");

SEC("sk_msg")
int msg_count(struct sk_msg_md *msg)
{
    bump(1);
    return SK_PASS;
}

/* The whole received skb is one message. */
SEC("sk_skb/stream_parser")
int skb_parser(struct __sk_buff *skb)
{
    return skb->len;
}

SEC("sk_skb/stream_verdict")
int skb_verdict(struct __sk_buff *skb)
{
    bump(2);
    return SK_PASS;
}

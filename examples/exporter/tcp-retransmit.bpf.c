/* TCP retransmissions by destination address and port (tcp:tcp_retransmit_skb). IPv4 peers
 * appear as IPv4-mapped IPv6 addresses (::ffff:a.b.c.d), as the tracepoint fills daddr_v6. */
#include "vmlinux.h"
#include "maps.h"

char LICENSE[] SEC("license") = "GPL";

/* The tracepoint's record, as its tracefs format file lays it out. */
struct tcp_retransmit_args {
    __u64 common;
    const void *skbaddr;
    const void *skaddr;
    int state;
    __u16 sport;
    __u16 dport; /* host byte order */
    __u16 family;
    __u8 saddr[4];
    __u8 daddr[4];
    __u8 saddr_v6[16];
    __u8 daddr_v6[16];
};

struct peer_key {
    __u8 daddr[16];
    __u16 dport;
    __u8 pad[6];
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 4096);
    __type(key, struct peer_key);
    __type(value, __u64);
} tcp_retransmits SEC(".maps");

SEC("tracepoint/tcp/tcp_retransmit_skb")
int count_retransmit(struct tcp_retransmit_args *args)
{
    struct peer_key key = { .dport = args->dport };
    __builtin_memcpy(key.daddr, args->daddr_v6, sizeof(key.daddr));
    add_to(&tcp_retransmits, &key, 1);
    return 0;
}

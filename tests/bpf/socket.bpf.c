/* Socket filter: count every frame seen on the socket's interface (key 1), keep it whole. */
#include "counters.h"

SEC("socket")
int sock_count(struct __sk_buff *skb)
{
    bump(1);
    return skb->len;
}

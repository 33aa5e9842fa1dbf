/* sockops and cgroup_skb on a cgroup: key 1 sockops callbacks, 2 ingress and 3 egress packets,
 * 4 active TCP connections established. */
#include "counters.h"

SEC("sockops")
int sockops_count(struct bpf_sock_ops *ops)
{
    bump(1);
    if (ops->op == BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB)
        bump(4);
    return 1;
}

SEC("cgroup_skb/ingress")
int cgskb_in(struct __sk_buff *skb)
{
    bump(2);
    return 1;
}

SEC("cgroup_skb/egress")
int cgskb_out(struct __sk_buff *skb)
{
    bump(3);
    return 1;
}

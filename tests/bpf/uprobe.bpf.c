/* uprobe/uretprobe on the test binary's bpfhook_target_fn: key 1 counts entries, key 2 returns. */
#include "counters.h"

SEC("uprobe/bpfhook_target_fn")
int up_enter(void *ctx)
{
    bump(1);
    return 0;
}

SEC("uretprobe/bpfhook_target_fn")
int up_return(void *ctx)
{
    bump(2);
    return 0;
}

/* One uprobe.multi link on both bpfhook_target_* functions: key 10 + the link's cookie (the
 * function's index in the link) counts each. */
SEC("uprobe.multi/bpfhook_target_*")
int up_multi(void *ctx)
{
    bump(10 + bpf_get_attach_cookie(ctx));
    return 0;
}

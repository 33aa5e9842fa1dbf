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

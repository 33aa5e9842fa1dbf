/* Dereferences a map value without a NULL check: the verifier must reject it. */
#include "counters.h"

/* Attaches fine; the rollback test checks it is detached when bad_deref fails. */
SEC("raw_tp/sys_enter")
int good_first(void *ctx)
{
    bump(1);
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_execve")
int bad_deref(void *ctx)
{
    __u32 key = 0;
    __u64 *value = bpf_map_lookup_elem(&counts, &key);
    return *value;
}

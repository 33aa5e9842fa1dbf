/* Hooks a kernel may refuse: kprobe, fentry, fexit, LSM, tp_btf. Each counts into its own key. */
#include "counters.h"

SEC("kprobe/do_sys_openat2")
int kp_openat(void *ctx)
{
    bump(1);
    return 0;
}

SEC("fentry/do_sys_openat2")
int fentry_openat(unsigned long long *ctx)
{
    bump(2);
    return 0;
}

SEC("fexit/do_sys_openat2")
int fexit_openat(unsigned long long *ctx)
{
    bump(3);
    return 0;
}

SEC("lsm/file_open")
int lsm_file_open(unsigned long long *ctx)
{
    bump(4);
    return 0;
}

SEC("tp_btf/sys_enter")
int tpbtf_sys_enter(unsigned long long *ctx)
{
    bump(5);
    return 0;
}

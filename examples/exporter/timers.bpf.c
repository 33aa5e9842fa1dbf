/* Kernel timers started, by the function they will call (timer:timer_start tracepoint). */
#include "vmlinux.h"
#include "maps.h"

char LICENSE[] SEC("license") = "GPL";

/* The tracepoint's record, as its tracefs format file lays it out. */
struct timer_start_args {
    __u64 common;
    void *timer;
    void *function;
    unsigned long expires;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024);
    __type(key, __u64);
    __type(value, __u64);
} timer_starts SEC(".maps");

SEC("tracepoint/timer/timer_start")
int count_timer_start(struct timer_start_args *args)
{
    __u64 function = (__u64)args->function;
    add_to(&timer_starts, &function, 1);
    return 0;
}

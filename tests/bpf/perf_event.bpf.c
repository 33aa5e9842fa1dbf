/* perf_event: count samples (key 1). */
#include "counters.h"

SEC("perf_event")
int perf_sample(void *ctx)
{
    bump(1);
    return 0;
}

/* Helpers the exporter examples share: a counter bump that cannot lose a concurrent first
 * insert, and the log2 bucket index for exp2 histograms. */
#ifndef BPFHOOK_EXPORTER_MAPS_H
#define BPFHOOK_EXPORTER_MAPS_H

#include <bpf/bpf_helpers.h>

/* Adds `by` to the u64 at `key`, creating it. If another CPU creates it between our lookup and
 * insert, our BPF_NOEXIST insert fails and the second lookup finds theirs. */
static __always_inline void add_to(void *map, const void *key, __u64 by)
{
    __u64 *value = bpf_map_lookup_elem(map, key);
    if (value) {
        __sync_fetch_and_add(value, by);
        return;
    }
    if (bpf_map_update_elem(map, key, &by, BPF_NOEXIST) == 0)
        return;
    value = bpf_map_lookup_elem(map, key);
    if (value)
        __sync_fetch_and_add(value, by);
}

/* ceil(log2(v)), 0 for 0 and 1: the exp2 bucket, the smallest i with 2^i >= v. */
static __always_inline __u32 log2_bucket(__u64 v)
{
    __u32 bucket = 0;
    for (int i = 0; i < 64 && v > 1; i++) {
        v = (v + 1) >> 1;
        bucket++;
    }
    return bucket;
}

#endif

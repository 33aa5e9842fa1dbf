/* Block I/O latency per disk, issue to completion, as an exp2 histogram in microseconds, and
 * the requests in flight per disk as a gauge. */
#include "vmlinux.h"
#include "maps.h"

char LICENSE[] SEC("license") = "GPL";

#define MAX_BUCKET 26 /* 2^26 us: about a minute */

/* The block_rq_issue / block_rq_complete records share this start. */
struct block_rq_args {
    __u64 common;
    __u32 dev;
    __u32 pad;
    __u64 sector;
};

struct request_key {
    __u32 dev;
    __u32 pad;
    __u64 sector;
};

struct latency_key {
    __u32 dev;
    __u32 bucket;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, struct request_key);
    __type(value, __u64);
} started SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024);
    __type(key, struct latency_key);
    __type(value, __u64);
} bio_latency_seconds SEC(".maps");

/* Requests issued and not yet completed, by disk (a gauge: it goes down). */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024);
    __type(key, __u32);
    __type(value, __s64);
} bio_in_flight SEC(".maps");

SEC("tracepoint/block/block_rq_issue")
int block_issue(struct block_rq_args *args)
{
    struct request_key key = { .dev = args->dev, .sector = args->sector };
    __u64 now = bpf_ktime_get_ns();
    /* Counted in flight only when this request is new, so each completion undoes one issue. */
    if (bpf_map_update_elem(&started, &key, &now, BPF_NOEXIST) == 0)
        add_to(&bio_in_flight, &key.dev, 1);
    return 0;
}

SEC("tracepoint/block/block_rq_complete")
int block_complete(struct block_rq_args *args)
{
    struct request_key key = { .dev = args->dev, .sector = args->sector };
    __u64 *start = bpf_map_lookup_elem(&started, &key);
    if (!start)
        return 0;
    __u64 us = (bpf_ktime_get_ns() - *start) / 1000;
    if (bpf_map_delete_elem(&started, &key) == 0)
        add_to(&bio_in_flight, &key.dev, -1);

    struct latency_key bucket = { .dev = args->dev, .bucket = log2_bucket(us) };
    if (bucket.bucket > MAX_BUCKET)
        bucket.bucket = MAX_BUCKET;
    add_to(&bio_latency_seconds, &bucket, 1);
    /* ebpf_exporter's convention: index bucket_max + 1 holds the sum of the observations. */
    bucket.bucket = MAX_BUCKET + 1;
    add_to(&bio_latency_seconds, &bucket, us);
    return 0;
}

/* Floods: bursts of numbered records into a one-page ring buffer and a perf event array, far
 * more than they hold. XDP programs, so tests drive them with BPF_PROG_TEST_RUN; the burst size
 * is the u16 after the Ethernet header of the test packet. `flood_tp_*` do the same on every
 * getppid(2), 64 records a call, for the CLI. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct record {
    __u64 seq;
    __u64 payload;
};

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 4096);
} flood_ring SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
    __uint(key_size, sizeof(__u32));
    __uint(value_size, sizeof(__u32));
} flood_perf SEC(".maps");

/* [0] ring records attempted, [1] ring reservations failed,
 * [2] perf records attempted, [3] perf outputs failed. */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 4);
    __type(key, __u32);
    __type(value, __u64);
} flood_stats SEC(".maps");

__u64 ring_seq = 0;
__u64 perf_seq = 0;

#define MAX_BURST 1024

static __always_inline void count(__u32 key)
{
    __u64 *value = bpf_map_lookup_elem(&flood_stats, &key);
    if (value)
        __sync_fetch_and_add(value, 1);
}

static __always_inline __u32 burst(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;
    if (data + 16 > end)
        return 0;
    return *(__u16 *)(data + 14);
}

static __always_inline void ring_one(void)
{
    count(0);
    struct record *r = bpf_ringbuf_reserve(&flood_ring, sizeof(*r), 0);
    if (!r) {
        /* The number is spent anyway: the reader sees the hole. */
        __sync_fetch_and_add(&ring_seq, 1);
        count(1);
        return;
    }
    r->seq = __sync_fetch_and_add(&ring_seq, 1);
    r->payload = 0x5eed;
    bpf_ringbuf_submit(r, 0);
}

static __always_inline void perf_one(void *ctx)
{
    struct record r = { .seq = __sync_fetch_and_add(&perf_seq, 1), .payload = 0x5eed };
    count(2);
    if (bpf_perf_event_output(ctx, &flood_perf, BPF_F_CURRENT_CPU, &r, sizeof(r)) < 0)
        count(3);
}

SEC("xdp")
int flood_ringbuf(struct xdp_md *ctx)
{
    __u32 n = burst(ctx);
    for (__u32 i = 0; i < MAX_BURST && i < n; i++)
        ring_one();
    return XDP_PASS;
}

SEC("xdp")
int flood_perfbuf(struct xdp_md *ctx)
{
    __u32 n = burst(ctx);
    for (__u32 i = 0; i < MAX_BURST && i < n; i++)
        perf_one(ctx);
    return XDP_PASS;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int flood_tp_ringbuf(void *ctx)
{
    for (int i = 0; i < 64; i++)
        ring_one();
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int flood_tp_perfbuf(void *ctx)
{
    for (int i = 0; i < 64; i++)
        perf_one(ctx);
    return 0;
}

char _license[] SEC("license") = "GPL";

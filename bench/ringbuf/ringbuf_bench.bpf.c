/* Ring buffer benchmark producers, shared by the Rust bench and the libbpf C reader.
 * `fill`: BPF_PROG_TEST_RUN it with a packet whose u32 after the Ethernet header is the number
 * of 16-byte records to write (bpf_loop); it stops counting at the first failed reservation.
 * `live`: one record per getppid(2), for live throughput. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct record {
    __u64 seq;
    __u64 payload;
};

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 16 * 1024 * 1024);
} bench_ring SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 16 * 1024 * 1024);
} live_ring SEC(".maps");

/* [0] records written by `fill`, [1] `live` records written, [2] `live` reservations failed. */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 3);
    __type(key, __u32);
    __type(value, __u64);
} bench_stats SEC(".maps");

static __always_inline void add(__u32 key, __u64 n)
{
    __u64 *value = bpf_map_lookup_elem(&bench_stats, &key);
    if (value)
        __sync_fetch_and_add(value, n);
}

struct fill_state {
    __u64 written;
};

static long fill_one(__u64 index, struct fill_state *state)
{
    struct record *r = bpf_ringbuf_reserve(&bench_ring, sizeof(*r), 0);
    if (!r)
        return 1; /* full: stop the loop */
    r->seq = index;
    r->payload = 0xbe4c;
    /* No wakeup per record: the reader drains after the fill. */
    bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
    state->written++;
    return 0;
}

SEC("xdp")
int fill(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;
    struct fill_state state = {};
    if (data + 18 > end)
        return XDP_PASS;
    bpf_loop(*(__u32 *)(data + 14), fill_one, &state, 0);
    add(0, state.written);
    return XDP_PASS;
}

__u64 live_seq = 0;

SEC("tracepoint/syscalls/sys_enter_getppid")
int live(void *ctx)
{
    struct record *r = bpf_ringbuf_reserve(&live_ring, sizeof(*r), 0);
    if (!r) {
        add(2, 1);
        return 0;
    }
    r->seq = __sync_fetch_and_add(&live_seq, 1);
    r->payload = 0xbe4c;
    bpf_ringbuf_submit(r, 0);
    add(1, 1);
    return 0;
}

char _license[] SEC("license") = "GPL";

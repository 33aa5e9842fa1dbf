// A clang-built fixture for the decode/encode round trip: a bit of every
// kind of instruction clang 14 emits at -mcpu=v3 (32-bit ALU and jumps,
// atomics, byte swaps, map relocations, bpf-to-bpf calls, loops).
// Self-contained so it needs no libbpf headers.

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;

#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static long (*bpf_map_update_elem)(void *map, const void *key, const void *value, __u64 flags) = (void *)2;
static __u64 (*bpf_ktime_get_ns)(void) = (void *)5;
static long (*bpf_trace_printk)(const char *fmt, __u32 fmt_size, ...) = (void *)6;

struct {
    __uint(type, 1); /* BPF_MAP_TYPE_HASH */
    __uint(max_entries, 64);
    __type(key, __u32);
    __type(value, __u64);
} counts SEC(".maps");

struct xdp_md {
    __u32 data;
    __u32 data_end;
    __u32 data_meta;
    __u32 ingress_ifindex;
    __u32 rx_queue_index;
    __u32 egress_ifindex;
};

static __attribute__((noinline)) __u32 mix(__u32 a, __u32 b)
{
    __u32 x = a * 2654435761u;
    x ^= b >> 3;
    x = (x << 7) | (x >> 25);
    return x % 97 + (b / 3);
}

SEC("xdp")
int count_packets(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *data_end = (void *)(long)ctx->data_end;
    __u32 key = 0;
    if (data + 14 > data_end)
        return 1;
    __u16 proto = *(__u16 *)(data + 12);
    key = __builtin_bswap16(proto) & 63;
    __u64 *value = bpf_map_lookup_elem(&counts, &key);
    if (value) {
        __sync_fetch_and_add(value, 1);
    } else {
        __u64 one = 1;
        bpf_map_update_elem(&counts, &key, &one, 0);
    }
    return mix(key, ctx->ingress_ifindex) > 1000 ? 1 : 2;
}

SEC("tracepoint/syscalls/sys_enter_execve")
int on_execve(void *ctx)
{
    __u64 acc = bpf_ktime_get_ns();
    for (int i = 0; i < 8; i++) {
        acc = acc * 31 + i;
        if ((long long)acc < 0)
            acc = -acc;
    }
    __u32 key = (__u32)acc & 63;
    __u64 *value = bpf_map_lookup_elem(&counts, &key);
    if (value && __sync_fetch_and_or(value, acc) == 0) {
        char fmt[] = "first %llu\n";
        bpf_trace_printk(fmt, sizeof(fmt), acc);
    }
    return mix((__u32)acc, key) & 1;
}

char LICENSE[] SEC("license") = "GPL";

/* bpfhook's BCC dialect header: what BCC provides implicitly, as libbpf C.
 *
 * Every BCC program is compiled with this header first. Tables are libbpf BTF map
 * definitions; each table method the rewriter finds (`t.lookup(&k)`) becomes a call of the
 * `__bcc_<method>(&t, ...)` macro below. With __BCC_SHADOW defined (the syntax-only pass
 * whose AST the rewriter reads), tables are instead structs with one function-pointer member
 * per method, so clang type-checks the method calls and reports where they are.
 */
#pragma once
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#define TASK_COMM_LEN 16
#define DISK_NAME_LEN 32
#define NAME_MAX 255
#define PERF_MAX_STACK_DEPTH 127
#define BCC_SEC(NAME) __attribute__((section(NAME), used))

/* BCC programs are GPL unless they say otherwise. */
char __bcc_license[] SEC("license") = "GPL";

#ifdef __BCC_SHADOW
#define __BCC_MAP(TYPE, KEY, LEAF, NAME, SIZE)                                              \
	struct __bcc_table_##NAME {                                                         \
		KEY *key;                                                                   \
		LEAF *value;                                                                \
		LEAF *(*lookup)(KEY *);                                                     \
		LEAF *(*lookup_or_try_init)(KEY *, LEAF *);                                 \
		LEAF *(*lookup_or_init)(KEY *, LEAF *);                                     \
		long (*update)(KEY *, LEAF *);                                              \
		long (*insert)(KEY *, LEAF *);                                              \
		long (*delete)(KEY *);                                                      \
		void (*increment)(KEY, ...);                                                \
		void (*atomic_increment)(KEY, ...);                                         \
		long (*perf_submit)(void *, void *, __u64);                                 \
		long (*ringbuf_output)(void *, __u64, __u64);                               \
		void *(*ringbuf_reserve)(__u64);                                            \
		void (*ringbuf_submit)(void *, __u64);                                      \
		void (*ringbuf_discard)(void *, __u64);                                     \
		long (*get_stackid)(void *, __u64);                                         \
	} NAME
#define __BCC_OUTPUT(TYPE, NAME, SIZE) __BCC_MAP(TYPE, int, __u32, NAME, SIZE)
#define __BCC_STACKS(NAME, SIZE) __BCC_MAP(STACK_TRACE, __u32, __u64, NAME, SIZE)
#else
#define __BCC_MAP(TYPE, KEY, LEAF, NAME, SIZE)                                              \
	struct {                                                                            \
		__uint(type, BPF_MAP_TYPE_##TYPE);                                          \
		__type(key, KEY);                                                           \
		__type(value, LEAF);                                                        \
		__uint(max_entries, SIZE);                                                  \
	} NAME SEC(".maps")
#define __BCC_OUTPUT_PERF_EVENT_ARRAY(NAME, SIZE)                                           \
	struct {                                                                            \
		__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);                                \
		__uint(key_size, sizeof(int));                                              \
		__uint(value_size, sizeof(__u32));                                          \
	} NAME SEC(".maps")
#define __BCC_OUTPUT_RINGBUF(NAME, SIZE)                                                    \
	struct {                                                                            \
		__uint(type, BPF_MAP_TYPE_RINGBUF);                                         \
		__uint(max_entries, SIZE);                                                  \
	} NAME SEC(".maps")
#define __BCC_OUTPUT(TYPE, NAME, SIZE) __BCC_OUTPUT_##TYPE(NAME, SIZE)
#define __BCC_STACKS(NAME, SIZE)                                                            \
	struct {                                                                            \
		__uint(type, BPF_MAP_TYPE_STACK_TRACE);                                     \
		__uint(key_size, sizeof(__u32));                                            \
		__uint(value_size, PERF_MAX_STACK_DEPTH * sizeof(__u64));                   \
		__uint(max_entries, SIZE);                                                  \
	} NAME SEC(".maps")
#endif

/* BCC's defaults by argument count: BPF_HASH(name), (name, key), (name, key, leaf),
 * (name, key, leaf, size). */
#define __BCC_PICK(_1, _2, _3, _4, NAME, ...) NAME
#define __BCC_HASH4(TYPE, N, K, L, S) __BCC_MAP(TYPE, K, L, N, S)
#define __BCC_HASH3(TYPE, N, K, L) __BCC_MAP(TYPE, K, L, N, 10240)
#define __BCC_HASH2(TYPE, N, K) __BCC_MAP(TYPE, K, __u64, N, 10240)
#define __BCC_HASH1(TYPE, N) __BCC_MAP(TYPE, __u64, __u64, N, 10240)
#define __BCC_HASH_OF(TYPE, ...)                                                            \
	__BCC_PICK(__VA_ARGS__, __BCC_HASH4, __BCC_HASH3, __BCC_HASH2, __BCC_HASH1)(TYPE, __VA_ARGS__)
#define BPF_HASH(...) __BCC_HASH_OF(HASH, __VA_ARGS__)
#define BPF_PERCPU_HASH(...) __BCC_HASH_OF(PERCPU_HASH, __VA_ARGS__)
#define BPF_LRU_HASH(...) __BCC_HASH_OF(LRU_HASH, __VA_ARGS__)

#define __BCC_ARRAY3(TYPE, N, L, S) __BCC_MAP(TYPE, int, L, N, S)
#define __BCC_ARRAY2(TYPE, N, L) __BCC_MAP(TYPE, int, L, N, 10240)
#define __BCC_ARRAY1(TYPE, N) __BCC_MAP(TYPE, int, __u64, N, 10240)
#define __BCC_ARRAY_OF(TYPE, ...)                                                           \
	__BCC_PICK(__VA_ARGS__, _, __BCC_ARRAY3, __BCC_ARRAY2, __BCC_ARRAY1)(TYPE, __VA_ARGS__)
#define BPF_ARRAY(...) __BCC_ARRAY_OF(ARRAY, __VA_ARGS__)
#define BPF_PERCPU_ARRAY(...) __BCC_ARRAY_OF(PERCPU_ARRAY, __VA_ARGS__)

/* BPF_HISTOGRAM(name[, key[, size]]): a hash from bucket (int by default) to a u64 count. */
#define __BCC_HIST3(N, K, S) __BCC_MAP(HASH, K, __u64, N, S)
#define __BCC_HIST2(N, K) __BCC_MAP(HASH, K, __u64, N, 64)
#define __BCC_HIST1(N) __BCC_MAP(HASH, int, __u64, N, 64)
#define BPF_HISTOGRAM(...) __BCC_PICK(__VA_ARGS__, _, __BCC_HIST3, __BCC_HIST2, __BCC_HIST1)(__VA_ARGS__)

#define BPF_TABLE(KIND, K, L, N, S) __BCC_MAP(HASH, K, L, N, S)
#define BPF_PERF_OUTPUT(NAME) __BCC_OUTPUT(PERF_EVENT_ARRAY, NAME, 0)
#define BPF_RINGBUF_OUTPUT(NAME, PAGES) __BCC_OUTPUT(RINGBUF, NAME, (PAGES) * 4096)
#define __BCC_STACK2(N, S) __BCC_STACKS(N, S)
#define __BCC_STACK1(N) __BCC_STACKS(N, 1024)
#define BPF_STACK_TRACE(...) __BCC_PICK(__VA_ARGS__, _, _, __BCC_STACK2, __BCC_STACK1)(__VA_ARGS__)

/* Table methods, map first (the rewriter turns `t.m(args)` into `__bcc_m(&t, args)`). */
#define __bcc_lookup(M, K) ((typeof((M)->value))bpf_map_lookup_elem(M, K))
#define __bcc_update(M, K, V) bpf_map_update_elem(M, K, V, BPF_ANY)
#define __bcc_insert(M, K, V) bpf_map_update_elem(M, K, V, BPF_NOEXIST)
#define __bcc_delete(M, K) bpf_map_delete_elem(M, K)
#define __bcc_lookup_or_try_init(M, K, V)                                                   \
	({                                                                                  \
		typeof((M)->value) __p = bpf_map_lookup_elem(M, K);                         \
		if (!__p) {                                                                 \
			bpf_map_update_elem(M, K, V, BPF_NOEXIST);                          \
			__p = bpf_map_lookup_elem(M, K);                                    \
		}                                                                           \
		__p;                                                                        \
	})
#define __bcc_lookup_or_init(M, K, V) __bcc_lookup_or_try_init(M, K, V)
/* increment(key[, n]): the key by value, n defaults to 1; a concurrent first insert on
 * another CPU makes ours fail, so the add is retried on the entry that won. */
#define __bcc_increment(M, ...) __bcc_increment_by(M, __VA_ARGS__, 1, 0)
#define __bcc_increment_by(M, K, N, ...)                                                    \
	({                                                                                  \
		typeof(*(M)->key) __k = (K);                                                \
		typeof((M)->value) __v = bpf_map_lookup_elem(M, &__k);                      \
		if (__v) {                                                                  \
			__sync_fetch_and_add(__v, N);                                       \
		} else {                                                                    \
			typeof(*(M)->value) __init = N;                                     \
			if (bpf_map_update_elem(M, &__k, &__init, BPF_NOEXIST)) {           \
				__v = bpf_map_lookup_elem(M, &__k);                         \
				if (__v)                                                    \
					__sync_fetch_and_add(__v, N);                       \
			}                                                                   \
		}                                                                           \
	})
#define __bcc_atomic_increment(M, ...) __bcc_increment(M, __VA_ARGS__)
#define __bcc_perf_submit(M, CTX, DATA, SIZE)                                               \
	bpf_perf_event_output(CTX, M, BPF_F_CURRENT_CPU, DATA, SIZE)
#define __bcc_ringbuf_output(M, DATA, SIZE, FLAGS) bpf_ringbuf_output(M, DATA, SIZE, FLAGS)
#define __bcc_ringbuf_reserve(M, SIZE) bpf_ringbuf_reserve(M, SIZE, 0)
#define __bcc_ringbuf_submit(M, DATA, FLAGS) bpf_ringbuf_submit(DATA, FLAGS)
#define __bcc_ringbuf_discard(M, DATA, FLAGS) bpf_ringbuf_discard(DATA, FLAGS)
#define __bcc_get_stackid(M, CTX, FLAGS) bpf_get_stackid(CTX, M, FLAGS)

/* Reads kernel memory where BCC would: the rewriter wraps `p->field` reads in this. */
#define __bcc_read(EXPR)                                                                    \
	({                                                                                  \
		typeof(EXPR) __val;                                                         \
		__builtin_memset(&__val, 0, sizeof(__val));                                 \
		bpf_probe_read_kernel(&__val, sizeof(__val), &(EXPR));                      \
		__val;                                                                      \
	})

/* bpf_trace_printk("fmt", args...) without the size argument. */
#define bpf_trace_printk(FMT, ...)                                                          \
	({                                                                                  \
		static const char ____bcc_fmt[] = FMT;                                      \
		bpf_trace_printk(____bcc_fmt, sizeof(____bcc_fmt), ##__VA_ARGS__);          \
	})

/* Probe declarations whose hook the name says. */
#define TRACEPOINT_PROBE(CAT, EVENT)                                                        \
	BCC_SEC("tracepoint/" #CAT "/" #EVENT)                                              \
	int tracepoint__##CAT##__##EVENT(struct tracepoint__##CAT##__##EVENT *args)
#define RAW_TRACEPOINT_PROBE(EVENT)                                                         \
	BCC_SEC("raw_tracepoint/" #EVENT)                                                   \
	int raw_tracepoint__##EVENT(struct bpf_raw_tracepoint_args *ctx)
#define KFUNC_PROBE(FN, ...) BCC_SEC("fentry/" #FN) int BPF_PROG(kfunc__##FN, ##__VA_ARGS__)
#define KRETFUNC_PROBE(FN, ...) BCC_SEC("fexit/" #FN) int BPF_PROG(kretfunc__##FN, ##__VA_ARGS__)
#define LSM_PROBE(HOOK, ...) BCC_SEC("lsm/" #HOOK) int BPF_PROG(lsm__##HOOK, ##__VA_ARGS__)

/* BCC's helpers that libbpf does not have. */
static __always_inline unsigned int bpf_log2(unsigned int v)
{
	unsigned int r, shift;
	r = (v > 0xFFFF) << 4; v >>= r;
	shift = (v > 0xFF) << 3; v >>= shift; r |= shift;
	shift = (v > 0xF) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	r |= (v >> 1);
	return r;
}
static __always_inline unsigned int bpf_log2l(unsigned long v)
{
	unsigned int hi = v >> 32;
	if (hi)
		return bpf_log2(hi) + 32 + 1;
	else
		return bpf_log2(v) + 1;
}
#define bpf_get_current_task_btf_compat() ((struct task_struct *)bpf_get_current_task())

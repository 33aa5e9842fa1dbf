/* The libbpf reference: fill bench_ring with `fill` (BPF_PROG_TEST_RUN), then time
 * ring_buffer__consume over the full ring. Prints one line per round and a median:
 *   libbpf rounds=R records=N median_ns_per_record=X
 * With `live`, attach the `live` tracepoint program instead, call getppid(2) from one thread for
 * 2 s, and read live_ring with ring_buffer__poll meanwhile:
 *   libbpf live records_per_s=X read=N written=W failed=F
 * Usage: libbpf_drain OBJECT [ROUNDS | live] */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int count_record(void *ctx, void *data, size_t size)
{
    (void)data;
    (void)size;
    ++*(unsigned long long *)ctx;
    return 0;
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static atomic_int stop_producer;

static void *producer(void *arg)
{
    (void)arg;
    while (!atomic_load_explicit(&stop_producer, memory_order_relaxed))
        getppid();
    return NULL;
}

static unsigned long long stat_at(struct bpf_object *obj, unsigned int index)
{
    unsigned long long value = 0;
    bpf_map_lookup_elem(bpf_map__fd(bpf_object__find_map_by_name(obj, "bench_stats")), &index, &value);
    return value;
}

static int live(struct bpf_object *obj)
{
    struct bpf_link *link = bpf_program__attach(bpf_object__find_program_by_name(obj, "live"));
    unsigned long long records = 0;
    struct ring_buffer *rb = ring_buffer__new(bpf_map__fd(bpf_object__find_map_by_name(obj, "live_ring")),
                                              count_record, &records, NULL);
    if (!link || !rb) {
        fprintf(stderr, "attaching live / opening live_ring failed\n");
        return 1;
    }
    pthread_t thread;
    pthread_create(&thread, NULL, producer, NULL);
    double start = now_ns();
    while (now_ns() - start < 2e9)
        ring_buffer__poll(rb, 100);
    atomic_store(&stop_producer, 1);
    pthread_join(thread, NULL);
    ring_buffer__consume(rb);
    double seconds = (now_ns() - start) / 1e9;
    printf("libbpf live records_per_s=%.0f read=%llu written=%llu failed=%llu\n", records / seconds,
           records, stat_at(obj, 1), stat_at(obj, 2));
    ring_buffer__free(rb);
    bpf_link__destroy(link);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s OBJECT [ROUNDS]\n", argv[0]);
        return 2;
    }
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    if (rounds < 1 || rounds > 100)
        rounds = 5;
    struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
    if (!obj || bpf_object__load(obj)) {
        fprintf(stderr, "loading %s failed\n", argv[1]);
        return 1;
    }
    if (argc > 2 && strcmp(argv[2], "live") == 0) {
        int rc = live(obj);
        bpf_object__close(obj);
        return rc;
    }
    int prog = bpf_program__fd(bpf_object__find_program_by_name(obj, "fill"));
    int map = bpf_map__fd(bpf_object__find_map_by_name(obj, "bench_ring"));
    unsigned long long records = 0;
    struct ring_buffer *rb = ring_buffer__new(map, count_record, &records, NULL);
    if (prog < 0 || map < 0 || !rb) {
        fprintf(stderr, "finding fill/bench_ring failed\n");
        return 1;
    }
    unsigned char packet[64] = {0};
    unsigned int burst = 1u << 23;
    memcpy(packet + 14, &burst, sizeof(burst));
    double per_record[100];
    for (int round = 0; round < rounds; round++) {
        LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = packet, .data_size_in = sizeof(packet),
                    .repeat = 1);
        if (bpf_prog_test_run_opts(prog, &opts)) {
            perror("BPF_PROG_TEST_RUN");
            return 1;
        }
        records = 0;
        double start = now_ns();
        int n = ring_buffer__consume(rb);
        double took = now_ns() - start;
        if (n < 0 || records == 0) {
            fprintf(stderr, "consume failed: %d\n", n);
            return 1;
        }
        per_record[round] = took / records;
        printf("libbpf round=%d records=%llu ns_per_record=%.2f\n", round, records,
               per_record[round]);
    }
    qsort(per_record, rounds, sizeof(double), compare);
    printf("libbpf rounds=%d records=%llu median_ns_per_record=%.2f\n", rounds, records,
           per_record[rounds / 2]);
    ring_buffer__free(rb);
    bpf_object__close(obj);
    return 0;
}

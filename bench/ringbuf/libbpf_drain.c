/* The libbpf reference: fill bench_ring with `fill` (BPF_PROG_TEST_RUN), then time
 * ring_buffer__consume over the full ring. Prints one line per round and a median:
 *   libbpf rounds=R records=N median_ns_per_record=X
 * Usage: libbpf_drain OBJECT [ROUNDS] */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <stdio.h>
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

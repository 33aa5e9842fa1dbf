/* A target for bpfhook trace's C-record tests: bpfhook_records_fn receives a struct with bit
 * fields, a two-dimensional array, an anonymous nested struct and a union holding a float, and
 * bpfhook_poke_fn a buffer a script may overwrite (write_user). Waits for a line on stdin so
 * the tracer is attached first, then prints the buffer. */
#include <stdio.h>

struct records {
    unsigned int a : 4, b : 8, c : 3, d : 1, e : 16;
    int grid[2][3];
    struct {
        short inner;
    } anon;
    union {
        int i;
        float f;
    } u;
};

char bpfhook_poke_buffer[8] = "aaaa";

__attribute__((noinline)) int bpfhook_records_fn(struct records *r)
{
    return r->b;
}

__attribute__((noinline)) void bpfhook_poke_fn(char *p)
{
    __asm__ volatile("" : : "r"(p) : "memory");
}

int main(void)
{
    struct records r = {
        .a = 9, .b = 200, .c = 5, .d = 1, .e = 40000,
        .grid = { { 1, 2, 3 }, { 4, 5, 6 } },
        .anon = { .inner = -7 },
        .u = { .i = 42 },
    };
    char line[8];
    if (!fgets(line, sizeof line, stdin))
        return 1;
    bpfhook_records_fn(&r);
    bpfhook_poke_fn(bpfhook_poke_buffer);
    printf("buffer=%s\n", bpfhook_poke_buffer);
    return 0;
}

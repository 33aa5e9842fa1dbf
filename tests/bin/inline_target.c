/* A stack with inlined frames: main calls bpfhook_outer_fn, into which bpfhook_inlined_outer
 * and bpfhook_inlined_inner are inlined; the inner one calls the leaf bpfhook_leaf_fn, so a
 * uprobe on the leaf sees a return address inside both inlined functions. Built -O2 with
 * frame pointers; the leaf calls out so that it keeps one too: the kernel finds a uprobe's
 * caller at the stack top only when the probed function starts with `push %rbp`. Waits for a line on stdin before the call and
 * stays until stdin ends, so a tracer still finds its mappings (see uprobe_target.c). */
#include <stdio.h>
#include <unistd.h>

__attribute__((noinline)) int bpfhook_leaf_fn(int x)
{
    return x * 3 + (getpid() & 1);
}

__attribute__((always_inline)) static inline int bpfhook_inlined_inner(int x)
{
    /* Two calls: the first one's return address is still inside this function. */
    return bpfhook_leaf_fn(x) ^ bpfhook_leaf_fn(x + 7);
}

__attribute__((always_inline)) static inline int bpfhook_inlined_outer(int x)
{
    return bpfhook_inlined_inner(x) * 2;
}

__attribute__((noinline)) int bpfhook_outer_fn(int x)
{
    return bpfhook_inlined_outer(x) + 1;
}

int main(int argc, char **argv)
{
    char line[16];
    (void)argv;
    if (!fgets(line, sizeof line, stdin))
        return 1;
    printf("%d\n", bpfhook_outer_fn(argc));
    fflush(stdout);
    while (fgets(line, sizeof line, stdin))
        ;
    return 0;
}

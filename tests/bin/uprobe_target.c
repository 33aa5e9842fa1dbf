/* A uprobe target: waits for a line on stdin (so a test can attach with --pid first), then calls
 * bpfhook_target_fn and bpfhook_target_more N times each (N = argv[1], default 3). With a second
 * argument it stays until stdin ends, so a tracer still finds its mappings after the calls. */
#include <stdio.h>
#include <stdlib.h>

__attribute__((noinline)) int bpfhook_target_fn(int x)
{
    return x * 2;
}

__attribute__((noinline)) int bpfhook_target_more(int x)
{
    return x + 1;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 3, sum = 0;
    char line[16];
    if (!fgets(line, sizeof line, stdin))
        return 1;
    for (int i = 0; i < n; i++)
        sum += bpfhook_target_fn(i) + bpfhook_target_more(i);
    printf("%d\n", sum);
    fflush(stdout);
    if (argc > 2)
        while (fgets(line, sizeof line, stdin))
            ;
    return 0;
}

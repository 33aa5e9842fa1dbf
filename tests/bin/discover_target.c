/* A binary for discovery tests: two named functions for `list 'uprobe:BIN:*'` and two USDT
 * probes (one used at two sites) for `list 'usdt:BIN:*'`. Never needs to run. */
#include <stdio.h>
#include <sys/sdt.h>

__attribute__((noinline)) int bpfhook_discover_alpha(int x)
{
    DTRACE_PROBE1(bpfhook_test, alpha_called, x);
    return x + 1;
}

__attribute__((noinline)) int bpfhook_discover_beta(int x)
{
    DTRACE_PROBE1(bpfhook_test, alpha_called, x);
    DTRACE_PROBE2(bpfhook_test, beta_called, x, x * 2);
    return x * 2;
}

int main(int argc, char **argv)
{
    (void)argv;
    printf("%d\n", bpfhook_discover_alpha(argc) + bpfhook_discover_beta(argc));
    return 0;
}

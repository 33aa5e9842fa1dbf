/* A uprobe target with globals at fixed addresses (built -no-pie): waits for a line on
 * stdin, then calls bpfhook_globals_fn once. */
#include <stdio.h>

int bpfhook_global_int = 0x55555555;
long bpfhook_global_long = 0x1122334455667788;

__attribute__((noinline)) int bpfhook_globals_fn(void)
{
    return bpfhook_global_int != 0;
}

int main(void)
{
    char line[16];
    if (!fgets(line, sizeof line, stdin))
        return 1;
    return !bpfhook_globals_fn();
}

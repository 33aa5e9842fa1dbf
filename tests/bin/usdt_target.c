/* A USDT target (<sys/sdt.h> probes): waits for a line on stdin (so a tracer can attach with
 * --pid first), then fires each probe once and prints the semaphore of bpfhook:gated as it saw
 * it. Every probe has a semaphore (sdt.h names one per probe when _SDT_HAS_SEMAPHORES is set);
 * only bpfhook:gated's site is behind its semaphore. */
#define _SDT_HAS_SEMAPHORES 1
#include <stdio.h>
#include <sys/sdt.h>

#define SEMAPHORE(provider, name) \
    __attribute__((section(".probes"))) volatile unsigned short provider##_##name##_semaphore

SEMAPHORE(bpfhook, values);
SEMAPHORE(bpfhook, gated);
SEMAPHORE(bpfhook, twice);
SEMAPHORE(other, values);

__attribute__((noinline)) static void fire(int n)
{
    /* A register (r12), memory (a local at -O0: -4@-N(%rbp)), a constant, a 32-bit register
     * (the volatile is loaded), a pointer. */
    register long in_register asm("r12") = -7;
    int negative = -42;
    volatile unsigned int large = 0xfffffff0u;
    /* On the stack: a page the tracer's read finds present. */
    char greeting[] = "hello usdt";
    DTRACE_PROBE5(bpfhook, values, in_register, negative, 1234, large, greeting);
    /* One probe at two sites, with different arguments. */
    DTRACE_PROBE1(bpfhook, twice, n);
    DTRACE_PROBE1(bpfhook, twice, n + 100);
    DTRACE_PROBE1(other, values, n);
    if (bpfhook_gated_semaphore)
        DTRACE_PROBE1(bpfhook, gated, bpfhook_gated_semaphore);
}

int main(void)
{
    char line[16];
    if (!fgets(line, sizeof line, stdin))
        return 1;
    fire(1);
    printf("semaphore %d\n", bpfhook_gated_semaphore);
    fflush(stdout);
    return 0;
}

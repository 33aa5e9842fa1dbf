/* For `bpfhook profile` and `offcputime` tests: on CPU in one distinctively named function
 * (`profile_target SECONDS`), or blocked in another (`profile_target SECONDS nap`). Built at
 * -O0, so every function keeps its frame pointer. */
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>

__attribute__((noinline)) unsigned long bpfhook_hot_spin(unsigned long rounds)
{
	volatile unsigned long x = 0;
	for (unsigned long i = 0; i < rounds; i++)
		x += i * 2654435761u;
	return x;
}

/* nanosleep(2) issued here rather than in libc (built without frame pointers), so the user
 * stack at the system call starts in this function. */
__attribute__((noinline)) void bpfhook_nap(void)
{
	struct timespec two_ms = { 0, 2000000 };
	long ret;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"((long)SYS_nanosleep), "D"(&two_ms), "S"(0L)
			 : "rcx", "r11", "memory");
	(void)ret;
}

static double elapsed(const struct timespec *start)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start->tv_sec) + (now.tv_nsec - start->tv_nsec) / 1e9;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 3.0;
	int nap = argc > 2 && strcmp(argv[2], "nap") == 0;
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	do {
		if (nap)
			bpfhook_nap();
		else
			bpfhook_hot_spin(1000000);
	} while (elapsed(&start) < seconds);
	return 0;
}

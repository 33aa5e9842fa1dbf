/* A CPU-bound loop in one distinctively named function, for `bpfhook profile` tests. */
#include <stdlib.h>
#include <time.h>

__attribute__((noinline)) unsigned long bpfhook_hot_spin(unsigned long rounds)
{
	volatile unsigned long x = 0;
	for (unsigned long i = 0; i < rounds; i++)
		x += i * 2654435761u;
	return x;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 3.0;
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	do {
		bpfhook_hot_spin(1000000);
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while ((now.tv_sec - start.tv_sec) + (now.tv_nsec - start.tv_nsec) / 1e9 < seconds);
	return 0;
}

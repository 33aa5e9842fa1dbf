/* A uprobe target whose functions' parameters are typed from DWARF: waits for a line on stdin
 * (so a tracer attaches first), then calls each function once. */
#include <stdio.h>

typedef unsigned long counter_t;
enum colour { RED, GREEN = 5 };

struct point {
    int x;
    char name[8];
    int values[3];
};

struct node {
    struct point *at;
    struct node *next;
};

__attribute__((noinline)) int dwarf_scalars(int x, char c, counter_t count, enum colour colour)
{
    return x + c + (int)count + colour;
}

__attribute__((noinline)) int dwarf_pointers(struct point *p, const char *label, struct node *n)
{
    return p->x + label[0] + (n != 0);
}

__attribute__((noinline)) int dwarf_by_value(struct point p, __int128 wide)
{
    return p.x + (int)wide;
}

__attribute__((noinline)) int dwarf_many(int a, int b, int c, int d, int e, int f, int g)
{
    return a + b + c + d + e + f + g;
}

int main(void)
{
    char line[16];
    if (!fgets(line, sizeof line, stdin))
        return 1;
    struct point p = { .x = 42, .name = "origin", .values = { 1, 2, 3 } };
    struct node n = { .at = &p, .next = 0 };
    int sum = dwarf_scalars(-7, 'q', 9, GREEN);
    sum += dwarf_pointers(&p, "label", &n);
    sum += dwarf_by_value(p, 3);
    sum += dwarf_many(1, 2, 3, 4, 5, 6, 7);
    printf("%d\n", sum);
    return 0;
}

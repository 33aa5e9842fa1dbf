/* The record dwarf_event.bpf.c sends, declared in a header as libbpf-bootstrap does: the program
 * uses it only through the pointer bpf_ringbuf_reserve returns, so clang leaves it out of .BTF
 * and only the object's DWARF (-g) describes it. */
#ifndef DWARF_EVENT_H
#define DWARF_EVENT_H

enum dwarf_event_kind {
    DWARF_EVENT_EXEC = 1,
    DWARF_EVENT_OTHER = 2,
};

typedef const char *dwarf_text_t;

struct event {
    __u32 pid;
    enum dwarf_event_kind kind;
    char comm[16];
    char filename[64];
    __u16 flags : 3;
    __u16 level : 5;
    __s16 delta;
    __u64 seq;
    /* The shapes DWARF spells differently from BTF: a two-dimensional array (one DIE, two
     * subranges), an anonymous union and struct, a typedef'd pointer. */
    __u16 grid[2][3];
    union {
        __u32 word;
        __u16 halves[2];
    };
    struct {
        __s8 lo;
        __u8 hi;
    } pair;
    dwarf_text_t text;
};

#endif

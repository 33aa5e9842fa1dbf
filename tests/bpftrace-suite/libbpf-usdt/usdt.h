/* What bpftrace's test programs use of libbpf's usdt.h (USDT(), explicit semaphores), on
 * systemtap's <sys/sdt.h>: the suite ships without that header, so run.sh puts this one in
 * the include path. The notes are sdt.h's; only a probe behind an explicit semaphore gets a
 * note of its own here, because sdt.h names semaphores after the probe (and only for a whole
 * file at once). */
#ifndef BPFHOOK_SUITE_USDT_H
#define BPFHOOK_SUITE_USDT_H

#define SDT_USE_VARIADIC 1
#include <sys/sdt.h>

#define USDT(provider, name, ...) STAP_PROBEV(provider, name, ##__VA_ARGS__)

/* A semaphore: the tracer's kernel counts the uprobes attached to its probe in `active`. */
struct usdt_sema {
    volatile unsigned short active;
};
#define USDT_DEFINE_SEMA(sema) \
    __attribute__((section(".probes"), used)) struct usdt_sema sema
#define USDT_SEMA(sema) (sema)
#define USDT_SEMA_IS_ACTIVE(sema) (__builtin_expect((sema).active, 0))

/* sdt.h's note, with `sema`'s address where sdt.h would name PROVIDER_NAME_semaphore. */
#define _BPFHOOK_SEMA_NOTE(sema, provider, name, n)                            \
    _SDT_DEF_MACROS                                                            \
    _SDT_ASM_1(990:	_SDT_NOP)                                                  \
    _SDT_ASM_3(.pushsection .note.stapsdt, _SDT_ASM_AUTOGROUP, "note")         \
    _SDT_ASM_1(.balign 4)                                                      \
    _SDT_ASM_3(.4byte 992f-991f, 994f-993f, _SDT_NOTE_TYPE)                    \
    _SDT_ASM_1(991:	.asciz _SDT_NOTE_NAME)                                     \
    _SDT_ASM_1(992:	.balign 4)                                                 \
    _SDT_ASM_1(993:	_SDT_ASM_ADDR 990b)                                        \
    _SDT_ASM_1(_SDT_ASM_ADDR _.stapsdt.base)                                   \
    _SDT_ASM_1(_SDT_ASM_ADDR sema)                                             \
    _SDT_ASM_STRING(provider)                                                  \
    _SDT_ASM_STRING(name)                                                      \
    _SDT_ASM_ARGS(n)                                                           \
    _SDT_ASM_SUBSTR(\x00)                                                      \
    _SDT_UNDEF_MACROS                                                          \
    _SDT_ASM_1(994:	.balign 4)                                                 \
    _SDT_ASM_1(.popsection)

#define _BPFHOOK_SEMA_PROBE_N(sema, provider, name, n, ...)                    \
    do {                                                                       \
        __asm__ __volatile__("" ::"m"(sema));                                  \
        __asm__ __volatile__(_BPFHOOK_SEMA_NOTE(sema, provider, name, n)       \
                             ::_SDT_ASM_OPERANDS_##n(__VA_ARGS__));            \
        __asm__ __volatile__(_SDT_ASM_BASE);                                   \
    } while (0)
/* One more expansion, so that the count is a number before it is pasted. */
#define _BPFHOOK_SEMA_PROBE(sema, provider, name, n, ...)                      \
    _BPFHOOK_SEMA_PROBE_N(sema, provider, name, n, ##__VA_ARGS__)
#define USDT_WITH_EXPLICIT_SEMA(sema, provider, name, ...)                     \
    _BPFHOOK_SEMA_PROBE(sema, provider, name, _SDT_NARG(0, ##__VA_ARGS__),     \
                        ##__VA_ARGS__)

#endif

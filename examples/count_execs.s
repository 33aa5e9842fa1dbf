; Counts execs per process (tgid) in a hash map, written in the verifier's syntax.
; Run: bpfhook asm examples/count_execs.s -o count_execs.o && bpfhook run count_execs.o -- ls
.license "GPL"
.map counts type=hash key=4 value=8 entries=1024

.section tracepoint/syscalls/sys_enter_execve count_execs
    call bpf_get_current_pid_tgid
    r0 >>= 32
    *(u32 *)(r10 -4) = r0
    *(u64 *)(r10 -16) = 1
    r1 = map counts ll
    r2 = r10
    r2 += -4
    r3 = r10
    r3 += -16
    r4 = 0
    call bpf_map_update_elem
    r0 = 0
    exit

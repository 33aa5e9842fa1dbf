; A ring buffer producer without BTF (legacy maps, no .BTF): its records can only print as hex.
; Each execve sends the 8 bytes 0x11..0x18.
.license "GPL"
.map plain_ring type=ringbuf key=0 value=0 entries=4096

.section tracepoint/syscalls/sys_enter_execve plain_records
    r1 = 0x1817161514131211 ll
    *(u64 *)(r10 -8) = r1
    r1 = map plain_ring ll
    r2 = r10
    r2 += -8
    r3 = 8
    r4 = 0
    call bpf_ringbuf_output
    r0 = 0
    exit

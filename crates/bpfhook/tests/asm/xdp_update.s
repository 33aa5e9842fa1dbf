; An XDP program in the verifier's syntax: it stores 40 + 2 (computed by a
; bpf-to-bpf call) into results[0], copies a .rodata constant into
; results[1], bumps hits[0] atomically, and passes the packet.

.license "GPL"
.map results type=array key=4 value=8 entries=2
.map hits type=array key=4 value=8 entries=1
.rodata magic "\xef\xbe\xad\xde\x00\x00\x00\x00"

.section xdp update_results
    r1 = 2
    call add_forty                      // into .text, a relocation
    *(u64 *)(r10 -16) = r0
    *(u32 *)(r10 -4) = 0
    r1 = map results ll
    r2 = r10
    r2 += -4
    r3 = r10
    r3 += -16
    r4 = 0
    call bpf_map_update_elem
    if r0 != 0x0 goto fail

    r1 = rodata magic ll
    r1 = *(u64 *)(r1 +0)
    *(u64 *)(r10 -16) = r1
    *(u32 *)(r10 -4) = 1
    r1 = map results ll
    r2 = r10
    r2 += -4
    r3 = r10
    r3 += -16
    r4 = 0
    call bpf_map_update_elem#2
    if r0 != 0x0 goto fail

    *(u32 *)(r10 -4) = 0
    ld_map_fd r1, hits
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem
    if r0 == 0x0 goto fail
    r1 = 1
    lock *(u64 *)(r0 +0) += r1
    r0 = 2                              # XDP_PASS
    exit
fail:
    r0 = 1                              # XDP_DROP
    exit

.func add_forty
    call plus_twenty                    ; a call from .text into .text
    r1 = r0
    call plus_twenty
    exit

.func plus_twenty
    r0 = r1
    r0 += 20
    exit

//! Whether a binary was built with frame pointers, the thing a BPF stack walk
//! (`bpf_get_stackid` on user stacks) needs: a guess from how its functions begin.

use std::path::Path;

use object::{Architecture, Object};

use super::elf::{function_symbols, LoadSegments};

/// `endbr64`, which CET builds put before the prologue.
const ENDBR64: &[u8] = &[0xf3, 0x0f, 0x1e, 0xfa];
/// `push %rbp; mov %rsp,%rbp`, in both encodings of the `mov`.
const PROLOGUES: &[&[u8]] = &[&[0x55, 0x48, 0x89, 0xe5], &[0x55, 0x48, 0x8b, 0xec]];
/// `sub $imm8,%rsp` and `sub $imm32,%rsp`.
const STACK_ALLOCATIONS: &[&[u8]] = &[&[0x48, 0x83, 0xec], &[0x48, 0x81, 0xec]];
/// Functions looked at, spread over the file: enough for a majority, cheap on a big binary.
const SAMPLE: usize = 256;

/// x86-64 only (`None` elsewhere, or with no function that builds a frame): of the sampled
/// functions that open (after an optional `endbr64`) by saving a register or making room on
/// the stack, `Some(true)` when most do it with `push %rbp; mov %rsp,%rbp`. Functions that
/// touch no stack (leaves; GCC keeps no frame pointer there even with
/// `-fno-omit-frame-pointer`) and shrink-wrapped ones do not vote; without frame pointers
/// %rbp is just another saved register, pushed but not loaded from %rsp.
pub fn has_frame_pointers(path: &Path) -> Option<bool> {
    let data = std::fs::read(path).ok()?;
    let elf = object::File::parse(&*data).ok()?;
    if elf.architecture() != Architecture::X86_64 {
        return None;
    }
    let segments = LoadSegments::of(&elf);
    let mut starts: Vec<u64> = function_symbols(&elf)
        .filter(|s| s.size >= 8)
        .map(|s| s.address)
        .collect();
    starts.sort_unstable();
    starts.dedup();
    let step = starts.len().div_ceil(SAMPLE).max(1);
    let (mut sampled, mut framed) = (0usize, 0usize);
    for &address in starts.iter().step_by(step) {
        let Some(code) = segments
            .file_offset(address)
            .and_then(|offset| data.get(usize::try_from(offset).ok()?..))
        else {
            continue;
        };
        let code = code.strip_prefix(ENDBR64).unwrap_or(code);
        if builds_frame(code) {
            sampled += 1;
            framed += usize::from(PROLOGUES.iter().any(|p| code.starts_with(p)));
        }
    }
    (sampled > 0).then(|| framed * 2 > sampled)
}

/// Opens with `push %reg` (including r8–r15) or a stack allocation.
fn builds_frame(code: &[u8]) -> bool {
    let push = |byte: u8| (0x50..=0x57).contains(&byte);
    match code {
        [first, ..] if push(*first) => true,
        [0x41, second, ..] if push(*second) => true,
        _ => STACK_ALLOCATIONS.iter().any(|s| code.starts_with(s)),
    }
}

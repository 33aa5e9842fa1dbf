//! Our BTF parser on raw blobs and on ELF files with a `.BTF` section.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = bpfhook::btf::Btf::parse(data);
    let _ = bpfhook::btf::Btf::from_elf(data);
});

//! The assembler's text parsers: one program, and a whole object (maps, data, sections).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let _ = bpfhook::asm::text::parse_program(text);
    let _ = bpfhook::asm::text::parse_object(text);
});

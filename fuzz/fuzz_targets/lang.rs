//! The tracing language's parser (not built yet: see the note at the end of fuzz/Cargo.toml).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let _ = bpfhook_lang::parse(text);
});

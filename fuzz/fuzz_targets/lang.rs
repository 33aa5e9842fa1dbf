//! The tracing language's parser: no input may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let _ = bpfhook_lang::parse(text);
});

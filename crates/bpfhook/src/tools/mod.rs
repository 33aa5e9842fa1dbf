//! Ready-made tools whose programs are built in Rust with `asm`, so they run without clang.

pub mod execsnoop;

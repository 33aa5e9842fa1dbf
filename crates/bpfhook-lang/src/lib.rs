//! bpfhook-lang: the bpftrace language compiled by our own code, without LLVM.
//!
//! text → [`lexer`] → [`parser`] ([`ast`], spans in [`diag`]; [`printer`] writes a tree back
//! as source) → semantic pass (types, map shapes, probe contexts) → codegen onto
//! `bpfhook::asm` → one object loaded by the Manager → a runtime that turns records into lines
//! and maps into bpftrace's text or JSON ([`output`]).

pub mod ast;
pub mod diag;
pub mod lexer;
pub mod output;
pub mod parser;
pub mod printer;
#[cfg(test)]
mod testutil;

pub use parser::parse;

//! eBPF instructions as plain values, and the tools around them:
//!
//! - [`insn`]: the instruction model, byte encoding and strict decoding;
//! - [`builder`]: a program builder whose labels are resolved late;
//! - [`helpers`]: helper ids and names from the kernel's `enum bpf_func_id`;
//! - [`text`]: the verifier-log syntax, printed and parsed;
//! - [`elf`]: a relocatable EM_BPF object writer that aya, libbpf and
//!   llvm-objdump accept.

mod btf_maps;
mod btf_writer;
pub mod builder;
pub mod elf;
mod error;
mod func_info;
pub mod helpers;
pub mod insn;
pub mod text;

pub use builder::{Builder, Program, Relocation, RelocationTarget};
pub use elf::{DataSpec, FunctionSpec, MapSpec, MapStyle, ObjectSpec, ProgramSpec};
pub use error::AsmError;
pub use helpers::Helper;
pub use insn::*;

//! bpfhook: load eBPF objects and attach their programs to every kind of kernel hook.
//!
//! The path of `bpfhook run prog.o`: [`object::ObjectFile`] parses the ELF and gives each
//! program its [`hook::Hook`]; [`manager::ManagerBuilder`] resolves every target
//! ([`attach::resolve`]), creates the maps with [`loader::LoadedObject`] (aya-obj parses and
//! relocates; we talk to the kernel), and loads and attaches each program
//! ([`attach::load_and_attach`]); [`events::EventLoop`] streams what the programs print;
//! [`maps`] reads the maps at exit; dropping the [`manager::Manager`] detaches all.

pub mod asm;
pub mod attach;
pub mod btf;
pub mod clock;
pub mod compile;
pub mod decode;
pub mod discover;
pub mod dwarf;
pub mod events;
pub mod hook;
pub mod inspect;
pub mod kernel;
pub mod loader;
pub mod manager;
pub mod maps;
pub mod names;
pub mod object;
pub mod pinned;
pub mod record_size;
pub mod seccomp;
pub mod symbolize;
pub mod sys;
pub mod tools;

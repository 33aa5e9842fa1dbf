//! bpfhook: load eBPF objects and attach their programs to kernel hooks.
pub mod btf;

//! Facts about the running kernel: its BTF, tracefs, what it can attach, where cgroup v2 lives.

pub mod btf;
pub mod cgroup;
pub mod features;
pub mod kallsyms;
pub mod tracefs;

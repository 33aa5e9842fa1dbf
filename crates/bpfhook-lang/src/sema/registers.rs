//! `reg("name")`: where each register sits in the kernel's `struct pt_regs` (x86_64 layout).

/// Byte offset of a register in x86_64 `struct pt_regs`, by the names bpftrace accepts.
pub fn offset(name: &str) -> Option<i16> {
    let index = match name {
        "r15" => 0,
        "r14" => 1,
        "r13" => 2,
        "r12" => 3,
        "bp" | "rbp" => 4,
        "bx" | "rbx" => 5,
        "r11" => 6,
        "r10" => 7,
        "r9" => 8,
        "r8" => 9,
        "ax" | "rax" => 10,
        "cx" | "rcx" => 11,
        "dx" | "rdx" => 12,
        "si" | "rsi" => 13,
        "di" | "rdi" => 14,
        "orig_ax" | "orig_rax" => 15,
        "ip" | "rip" => 16,
        "cs" => 17,
        "flags" | "eflags" => 18,
        "sp" | "rsp" => 19,
        "ss" => 20,
        _ => return None,
    };
    Some(index * 8)
}

/// The registers holding the first six integer arguments (System V AMD64 ABI).
pub const ARGUMENTS: [&str; 6] = ["di", "si", "dx", "cx", "r8", "r9"];

/// The return value register.
pub const RETURN: &str = "ax";

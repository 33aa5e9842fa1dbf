//! Prints a BTF file as a C header (default) or a raw listing (`--raw`),
//! like `bpftool btf dump file PATH [format c]`; used to benchmark the
//! writers against bpftool.
//!
//! Usage: `btf_dump [--raw] [PATH]` (PATH defaults to the kernel's BTF).

use std::io::Write;

use bpfhook::btf::{write_c_header, write_raw, Btf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut raw = false;
    let mut path = String::from("/sys/kernel/btf/vmlinux");
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--raw" => raw = true,
            _ => path = arg,
        }
    }
    let btf = Btf::from_file(&path)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if raw {
        write_raw(&btf, &mut out)?;
    } else {
        write_c_header(&btf, &mut out)?;
    }
    out.flush()?;
    Ok(())
}

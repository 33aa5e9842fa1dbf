//! `bpfhook btf dump [--format c|raw] [FILE]`: a BTF blob as a C header (vmlinux.h) or one type
//! per line.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use bpfhook::btf::{write_c_header, write_raw, Btf};
use clap::{Args, Subcommand, ValueEnum};

#[derive(Subcommand)]
pub enum BtfCommand {
    /// Print every type of a BTF blob (default: the running kernel's)
    Dump(DumpArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    C,
    Raw,
}

#[derive(Args)]
pub struct DumpArgs {
    /// Output format
    #[arg(long, value_enum, default_value = "c")]
    format: Format,
    /// A raw BTF file or an ELF object with a .BTF section
    #[arg(default_value = "/sys/kernel/btf/vmlinux")]
    file: PathBuf,
}

pub fn btf(command: BtfCommand) -> Result<()> {
    let BtfCommand::Dump(args) = command;
    let btf = Btf::from_file(&args.file)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
    match args.format {
        Format::C => write_c_header(&btf, &mut out)?,
        Format::Raw => write_raw(&btf, &mut out)?,
    }
    out.flush()?;
    Ok(())
}

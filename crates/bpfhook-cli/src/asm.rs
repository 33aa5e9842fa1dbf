//! `bpfhook asm FILE.s -o FILE.o`: assemble the verifier-log syntax into a loadable object.

use std::path::PathBuf;

use anyhow::{Context, Result};
use bpfhook::asm::text::parse_object;
use bpfhook::asm::MapStyle;
use clap::{Args, ValueEnum};

#[derive(Clone, Copy, ValueEnum)]
enum Maps {
    /// A `maps` section of `struct bpf_map_def` (aya, older libbpf)
    Legacy,
    /// BTF-defined `.maps` (libbpf 1.0+, bpftool)
    Btf,
}

#[derive(Args)]
pub struct AsmArgs {
    /// Source in the verifier's syntax, with .section/.map/.license/.rodata directives
    source: PathBuf,
    /// Where to write the object (default: the source name with .o)
    #[arg(long, short = 'o')]
    output: Option<PathBuf>,
    /// How maps are declared in the object
    #[arg(long, value_enum, default_value = "legacy")]
    maps: Maps,
}

pub fn asm(args: AsmArgs) -> Result<()> {
    let text = std::fs::read_to_string(&args.source)
        .with_context(|| format!("reading {}", args.source.display()))?;
    let mut spec = parse_object(&text).with_context(|| args.source.display().to_string())?;
    spec.map_style = match args.maps {
        Maps::Legacy => MapStyle::Legacy,
        Maps::Btf => MapStyle::Btf,
    };
    let elf = spec.to_elf()?;
    let output = args
        .output
        .unwrap_or_else(|| args.source.with_extension("o"));
    std::fs::write(&output, elf).with_context(|| format!("writing {}", output.display()))?;
    println!("{}", output.display());
    Ok(())
}

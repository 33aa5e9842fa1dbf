//! `bpfhook build FILE.c -o FILE.o`, and the compile step of `run FILE.c`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use bpfhook::compile::{compile, CompileOptions};
use clap::Args;

/// Flags shared by `build` and `run`.
#[derive(Args, Clone, Default)]
pub struct CompileArgs {
    /// Extra clang flags, e.g. --cflags "-I include -DDEBUG" (repeatable)
    #[arg(long, allow_hyphen_values = true)]
    cflags: Vec<String>,
    /// Compile even if a cached object matches
    #[arg(long)]
    no_cache: bool,
}

#[derive(Args)]
pub struct BuildArgs {
    /// C source of eBPF programs
    source: PathBuf,
    /// Where to write the object (default: the source name with .o)
    #[arg(long, short = 'o')]
    output: Option<PathBuf>,
    #[command(flatten)]
    compile: CompileArgs,
}

/// The object to load: `file` itself, or `file` compiled when it is C source.
pub fn object_for(file: &Path, args: &CompileArgs) -> Result<PathBuf> {
    if file.extension().is_none_or(|e| e != "c") {
        return Ok(file.to_path_buf());
    }
    let options = CompileOptions {
        cflags: args
            .cflags
            .iter()
            .flat_map(|f| f.split_whitespace().map(str::to_owned))
            .collect(),
        no_cache: args.no_cache,
    };
    let compiled = compile(file, &options)?;
    if compiled.cached {
        eprintln!(
            "bpfhook: {} unchanged, using the cached object",
            file.display()
        );
    } else {
        eprintln!("bpfhook: compiled {}", file.display());
    }
    Ok(compiled.object)
}

pub fn build(args: BuildArgs) -> Result<()> {
    let object = object_for(&args.source, &args.compile)?;
    let output = args
        .output
        .unwrap_or_else(|| args.source.with_extension("o"));
    std::fs::copy(&object, &output).with_context(|| format!("writing {}", output.display()))?;
    println!("{}", output.display());
    Ok(())
}

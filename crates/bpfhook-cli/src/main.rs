//! The `bpfhook` command: argument parsing and presentation. Kernel work lives in the library.

mod run;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "bpfhook",
    version,
    about = "Load eBPF programs and attach them to every kind of kernel hook"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Load an eBPF object, attach every program to its hook, stream bpf_printk output, print maps at exit
    Run(run::RunArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run::run(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("bpfhook: {}", describe(error.as_ref()));
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes on one line each, skipping causes the message already quotes.
fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        let text = e.to_string();
        if !message.contains(&text) {
            message.push_str(&format!(": {text}"));
        }
        cause = e.source();
    }
    message
}

//! `bpfhook exporter`: serve eBPF maps as Prometheus metrics until SIGINT/SIGTERM; SIGHUP
//! reloads the configs (unchanged ones stay attached).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::{bail, Result};
use bpfhook_exporter::http::HttpServer;
use bpfhook_exporter::{Exporter, Options};
use clap::Args;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

#[derive(Args)]
pub struct ExporterArgs {
    /// Directory of configs: NAME.yaml beside NAME.bpf.o or NAME.bpf.c
    #[arg(long = "config.dir", value_name = "DIR")]
    config_dir: PathBuf,
    /// Configs to load, comma-separated
    #[arg(
        long = "config.names",
        value_name = "NAMES",
        value_delimiter = ',',
        required = true
    )]
    config_names: Vec<String>,
    /// Where to serve /metrics, /programs and /healthz (port 0: any free port, printed)
    #[arg(
        long = "web.listen-address",
        value_name = "ADDR",
        default_value = "127.0.0.1:9435"
    )]
    listen_address: String,
    /// Prefix of every configured metric's name (ebpf_exporter's, so its dashboards work)
    #[arg(long = "metrics.prefix", default_value = "ebpf_exporter")]
    prefix: String,
    /// Leave the kernel's run-time statistics off (no per-program run count/time)
    #[arg(long)]
    no_run_stats: bool,
}

pub fn exporter(args: ExporterArgs) -> Result<ExitCode> {
    // Registered first, so a signal while configs load is not lost (nor fatal).
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    let exporter = Exporter::start(Options {
        dir: args.config_dir,
        names: args.config_names,
        prefix: args.prefix,
        run_stats: !args.no_run_stats,
        context: Default::default(),
    });
    for (name, error) in exporter.failures() {
        say(format_args!("config {name}: {error}"));
    }
    if exporter.live_count() == 0 {
        bail!("no config loaded");
    }
    let exporter = Arc::new(Mutex::new(exporter));
    let server = HttpServer::start(&args.listen_address, exporter.clone())?;
    say(format_args!("listening on http://{}", server.address()));
    for signal in signals.forever() {
        if signal != SIGHUP {
            break;
        }
        let report = exporter.lock().unwrap_or_else(|e| e.into_inner()).reload();
        say(format_args!(
            "reloaded: kept [{}], loaded [{}], failed [{}]",
            report.kept.join(", "),
            report.loaded.join(", "),
            report
                .failed
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        for (name, error) in &report.failed {
            say(format_args!("config {name}: {error}"));
        }
    }
    // Stop serving first, then dropping the exporter detaches every program.
    server.stop();
    drop(exporter);
    say(format_args!("stopped, everything detached"));
    Ok(ExitCode::SUCCESS)
}

/// A status line on stderr; a closed stderr (the log collector went away) is not fatal.
fn say(line: std::fmt::Arguments) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "bpfhook exporter: {line}");
}

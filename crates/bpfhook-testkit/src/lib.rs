//! Helpers for tests that run on the real kernel. Every kernel or system object a helper creates
//! is owned by a guard whose Drop removes it, so a failing test leaves nothing behind, and every
//! name is unique per process and call, so tests run in parallel.

mod cgroup;
mod fixtures;
mod mutation;
mod net;
mod temp;

pub use cgroup::TempCgroup;
pub use fixtures::{bpf_fixture, example_object, repo_root, test_binary, test_binary_with};
pub use mutation::{mutation_seed, name_hash, panic_message, Mutator, Rng};
pub use net::VethPair;
pub use temp::{shell_script, TempPath};

use std::sync::atomic::{AtomicU32, Ordering};

/// Spawns `command`, a copy of a binary the test just wrote, waiting out ETXTBSY: a child that
/// another test thread forks while the copy's file is still open holds it open for writing
/// until that child execs, and the kernel refuses to run a file open for writing.
pub fn spawn_fresh_executable(command: &mut std::process::Command) -> std::process::Child {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match command.spawn() {
            Err(e)
                if e.kind() == std::io::ErrorKind::ExecutableFileBusy
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            result => return result.expect("spawning the copied executable"),
        }
    }
}

/// A name no other test in any process uses at the same time: `{prefix}{pid}x{counter}`.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}{}x{}",
        std::process::id() % 100_000,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Whether a program of this name is still loaded after up to 2 s: the kernel frees a released
/// program after an RCU grace period, so a just-dropped one may linger for a moment.
pub fn program_loaded(name: &str) -> bool {
    let short = &name[..name.len().min(15)];
    let loaded = || {
        aya::programs::loaded_programs()
            .filter_map(Result::ok)
            .any(|p| p.name_as_str() == Some(short))
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while loaded() {
        if std::time::Instant::now() > deadline {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    false
}

/// Runs `program` with `args` and returns (stdout, stderr, whether it succeeded): for tests of
/// the bpfhook binary, which pass `env!("CARGO_BIN_EXE_bpfhook")`.
pub fn run_program(program: &str, args: &[&str]) -> (String, String, bool) {
    let output = std::process::Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {program}: {e}"));
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
        output.status.success(),
    )
}

/// Runs a command and panics with its output if it fails (test setup only).
pub fn sh(program: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

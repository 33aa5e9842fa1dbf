//! Runs the Python package's pytest suite (python/tests) from `cargo test`: a virtualenv under
//! target/ (kept between runs), maturin and pytest from PyPI, `pip install ./python` (maturin
//! builds the extension with the dev profile, so it reuses this build's artifacts), then
//! pytest. A failure shows pytest's (or pip's) own output.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn run(what: &str, command: &mut Command) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run {command:?}: {e}"));
    if !output.status.success() {
        panic!(
            "{what} failed ({}):\n{}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    output
}

/// A virtualenv with maturin and pytest, made once.
fn virtualenv() -> PathBuf {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("python-venv");
    let bin = venv.join("bin");
    if !bin.join("pytest").exists() || !bin.join("maturin").exists() {
        run(
            "creating the virtualenv (python3-venv)",
            Command::new("python3").args(["-m", "venv"]).arg(&venv),
        );
        run(
            "installing maturin and pytest from PyPI",
            Command::new(bin.join("pip")).args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "maturin>=1.5,<2",
                "pytest",
            ]),
        );
    }
    venv
}

fn search_path(first: &Path) -> std::ffi::OsString {
    let rest = std::env::var_os("PATH").unwrap_or_default();
    std::env::join_paths(std::iter::once(first.to_path_buf()).chain(std::env::split_paths(&rest)))
        .expect("PATH entries without ':'")
}

#[test]
fn python_package_installs_and_its_tests_pass() {
    let package = Path::new(env!("CARGO_MANIFEST_DIR"));
    let venv = virtualenv();
    let bin = venv.join("bin");
    run(
        "pip install ./python",
        Command::new(bin.join("pip"))
            .args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-build-isolation",
                "--no-deps",
                "--force-reinstall",
            ])
            .arg(package)
            .env("MATURIN_PEP517_ARGS", "--profile dev")
            // The build backend runs the venv's `maturin`.
            .env("PATH", search_path(&bin))
            .env(
                "CARGO_BUILD_JOBS",
                std::env::var("CARGO_BUILD_JOBS").unwrap_or("1".into()),
            ),
    );
    let output = run(
        "pytest python/tests",
        Command::new(bin.join("pytest"))
            .args(["-q", "-p", "no:cacheprovider"])
            .arg(package.join("tests"))
            // Outside the source tree, so `import bpfhook` is the installed package.
            .current_dir(std::env::temp_dir()),
    );
    let summary = String::from_utf8_lossy(&output.stdout);
    assert!(
        summary.contains(" passed"),
        "pytest ran no test:\n{summary}"
    );
    print!("{summary}");
}

//! Test fixtures built on demand: BPF programs from `tests/bpf/*.bpf.c` with clang, small target
//! programs from `tests/bin/*.c` with cc. Outputs are content-addressed under
//! `target/test-fixtures/`, written to a temporary name and linked into place only if no other
//! build got there first, so concurrent test processes share one build without seeing
//! half-written files, and a file never changes inode under a test that already uses it (a
//! uprobe attaches by inode: a replaced binary would leave it on a file nothing runs).

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

fn build_dir() -> PathBuf {
    let dir = repo_root().join("target/test-fixtures");
    std::fs::create_dir_all(&dir).expect("creating target/test-fixtures");
    dir
}

fn build(source: &Path, extension: &str, compiler: &str, flags: &[&str]) -> PathBuf {
    let text = std::fs::read(source).unwrap_or_else(|e| panic!("{}: {e}", source.display()));
    let mut hasher = DefaultHasher::new();
    (text, compiler, flags).hash(&mut hasher);
    // The headers beside the source may be included: an edited one means a rebuild.
    let mut headers: Vec<PathBuf> = source
        .parent()
        .and_then(|dir| std::fs::read_dir(dir).ok())
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|e| e == "h"))
        .collect();
    headers.sort();
    for header in headers {
        std::fs::read(&header).unwrap_or_default().hash(&mut hasher);
    }
    let stem = source
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("fixture");
    let stem = stem.split('.').next().unwrap_or(stem);
    let output = build_dir().join(format!("{stem}-{:016x}.{extension}", hasher.finish()));
    if output.exists() {
        return output;
    }
    let temporary = output.with_extension(crate::unique_name("tmp"));
    let status = Command::new(compiler)
        .args(flags)
        .arg(source)
        .arg("-o")
        .arg(&temporary)
        .status()
        .unwrap_or_else(|e| panic!("running {compiler} (install clang and libbpf-dev): {e}"));
    assert!(
        status.success(),
        "{compiler} failed on {}",
        source.display()
    );
    // hard_link refuses to replace: the first finished build wins, the others are dropped.
    match std::fs::hard_link(&temporary, &output) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => panic!("placing fixture {}: {e}", output.display()),
    }
    let _ = std::fs::remove_file(&temporary);
    output
}

/// `tests/bpf/NAME.bpf.c` compiled with `clang -O2 -g -target bpf`.
pub fn bpf_fixture(name: &str) -> PathBuf {
    compile_bpf(&repo_root().join(format!("tests/bpf/{name}.bpf.c")))
}

/// `examples/NAME.bpf.c` compiled the same way.
pub fn example_object(name: &str) -> PathBuf {
    compile_bpf(&repo_root().join(format!("examples/{name}.bpf.c")))
}

fn compile_bpf(source: &Path) -> PathBuf {
    let multiarch = format!("-I/usr/include/{}-linux-gnu", std::env::consts::ARCH);
    build(
        source,
        "o",
        "clang",
        &["-O2", "-g", "-target", "bpf", &multiarch, "-c"],
    )
}

/// `tests/bin/NAME.c` compiled with `cc` (no optimisation, so probed functions stay calls).
pub fn test_binary(name: &str) -> PathBuf {
    test_binary_with(name, &[])
}

/// [`test_binary`] with extra compiler flags (`-no-pie` for fixed addresses).
pub fn test_binary_with(name: &str, flags: &[&str]) -> PathBuf {
    let source = repo_root().join(format!("tests/bin/{name}.c"));
    let mut all = vec!["-O0", "-g"];
    all.extend_from_slice(flags);
    build(&source, "bin", "cc", &all)
}

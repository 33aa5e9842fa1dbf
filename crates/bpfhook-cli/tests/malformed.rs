//! `bpfhook run` on seeded mutants of the prebuilt example: each run exits 0 (the mutant loaded
//! and ran) or 1 with a message, never a panic (101) or a signal, and leaves nothing loaded.
//! The library's mutation test (`crates/bpfhook/tests/malformed.rs`) covers every fixture; this
//! one proves the binary's path: error printing and exit code. `BPFHOOK_MUTATION_SEED` picks
//! another set.

use std::process::Command;

use bpfhook_testkit::{
    mutation_seed, name_hash, program_loaded, repo_root, unique_name, Mutator, Rng, TempPath,
};

const MUTANTS: usize = 150;

/// The example with its program renamed to a unique name of the same length (symbol and BTF
/// name alike), so the check for leftovers cannot see another test's `hello`.
fn renamed_example(name: &str) -> Vec<u8> {
    let mut bytes = std::fs::read(repo_root().join("examples/hello.bpf.o")).expect("hello.bpf.o");
    let old = b"hello\0";
    let new = format!("{name}\0");
    assert_eq!(new.len(), old.len(), "the new name keeps every offset");
    let mut at = 0;
    while let Some(found) = bytes[at..].windows(old.len()).position(|w| w == old) {
        let start = at + found;
        bytes[start..start + old.len()].copy_from_slice(new.as_bytes());
        at = start + old.len();
    }
    bytes
}

#[test]
fn run_on_mutants_exits_0_or_1_with_a_message_and_leaves_nothing_loaded() {
    let seed = mutation_seed();
    // Five characters, like `hello`: a letter and the low digits of a per-process unique name.
    let unique = unique_name("");
    let name = format!("m{:0>4}", &unique[unique.len().saturating_sub(4)..]);
    let original = renamed_example(&name);
    let mutator = Mutator::new(&original);
    let mut rng = Rng::new(seed ^ name_hash("bpfhook run"));
    let dir = TempPath::dir("mutants");
    let file = dir.join("mutant.o");
    let (mut failed, mut ran) = (0, 0);
    let mut problems = Vec::new();
    for index in 0..MUTANTS {
        std::fs::write(&file, mutator.mutate(&mut rng)).expect("writing the mutant");
        let output = Command::new(env!("CARGO_BIN_EXE_bpfhook"))
            .args(["run", "-d", "0.05"])
            .arg(&file)
            .output()
            .expect("running bpfhook");
        let stderr = String::from_utf8_lossy(&output.stderr);
        match output.status.code() {
            Some(0) => ran += 1,
            Some(1) if !stderr.trim().is_empty() => failed += 1,
            code => problems.push(format!("#{index}: exit {code:?}: {stderr}")),
        }
    }
    eprintln!("seed {seed}: {MUTANTS} mutants: {failed} failed with a message, {ran} ran");
    assert!(
        problems.is_empty(),
        "seed {seed} (BPFHOOK_MUTATION_SEED={seed} reproduces):\n{}",
        problems.join("\n")
    );
    assert!(
        !program_loaded(&name),
        "a mutant's program `{name}` is still loaded"
    );
    assert!(
        failed > 0 && ran > 0,
        "the mutants should reach both outcomes"
    );
}

//! What the front end's tests share: a tree's shape without positions, and the programs of
//! the peer bpftrace runtime suites.

use std::path::{Path, PathBuf};

use crate::ast::Program;

/// The tree's debug form with every span offset and expression id zeroed, so two parses of
/// differently laid out text compare equal when their trees are.
pub fn shape(program: &Program) -> String {
    let text = format!("{program:#?}");
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while !rest.is_empty() {
        let next = ["start: ", "end: ", "ExprId(\n", "ExprId("]
            .iter()
            .filter_map(|p| rest.find(p).map(|i| (i, p.len())))
            .min();
        let Some((at, len)) = next else {
            out.push_str(rest);
            break;
        };
        out.push_str(&rest[..at + len]);
        rest = rest[at + len..].trim_start();
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits > 0 {
            out.push('0');
        }
        rest = &rest[digits..];
    }
    out
}

/// The suites whose `PROG` lines must parse.
pub const PEER_SUITES: &[&str] = &[
    "basic",
    "variable",
    "map",
    "call",
    "json-output",
    "tuples",
    "precedence",
    "other",
    "builtin",
    "probe",
];

/// A `PROG` of the peer suites: its suite, its test's `NAME`, the program.
pub struct PeerProgram {
    pub suite: &'static str,
    pub name: String,
    pub text: String,
}

/// `shared/peer/bpftrace-runtime/tests/runtime` beside one of the crate's ancestors (the
/// checkout may be the main tree or a worktree nested one level deeper), or in the workplace's
/// `/work/shared` for a clone made elsewhere (as CI's).
fn peer_dir() -> PathBuf {
    const RELATIVE: &str = "shared/peer/bpftrace-runtime/tests/runtime";
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .chain([Path::new("/work")])
        .map(|a| a.join(RELATIVE))
        .find(|d| d.is_dir())
        .unwrap_or_else(|| {
            panic!(
                "the peer bpftrace runtime suites were looked for at {RELATIVE} under every \
                 ancestor of {}, and are not there",
                manifest.display()
            )
        })
}

pub fn peer_programs() -> Vec<PeerProgram> {
    let dir = peer_dir();
    let mut programs = Vec::new();
    for &suite in PEER_SUITES {
        let path = dir.join(suite);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "the peer suite {suite} was looked for at {}: {e}",
                path.display()
            )
        });
        let mut name = String::new();
        for line in text.lines() {
            if let Some(n) = line.strip_prefix("NAME ") {
                name = n.to_string();
            } else if let Some(program) = line.strip_prefix("PROG ") {
                programs.push(PeerProgram {
                    suite,
                    name: name.clone(),
                    text: program.to_string(),
                });
            }
        }
    }
    programs
}

/// Compiles and runs `source` on the real kernel (root), JSON output collected: the exit
/// code and the lines written.
pub fn run_json(source: &str, settings: crate::sema::Settings, bench: bool) -> (i32, String) {
    let script = crate::compile("stdin", source, settings).unwrap_or_else(|e| panic!("{e}"));
    let mut output = crate::output::JsonOutput { out: Vec::new() };
    let options = crate::runtime::RunOptions {
        warnings: true,
        quiet: true,
        bench,
        ..Default::default()
    };
    let code = crate::runtime::run(&script.compiled, &script.analysis, options, &mut output)
        .unwrap_or_else(|e| panic!("running {source}: {e}"));
    (code, String::from_utf8(output.out).expect("UTF-8 output"))
}

/// Writes `text` to `name` (a relative path; its directories are made) in `dir`.
pub fn write_file(dir: &bpfhook_testkit::TempPath, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().expect("a file in the directory"))
        .expect("creating directories");
    std::fs::write(&path, text).expect("writing a file");
    path
}

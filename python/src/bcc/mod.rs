//! BCC programs to eBPF objects: the support files (compat.h, stub kernel headers, two
//! precompiled headers), tracepoint argument structs, clang's AST pass, the rewrite, then the
//! library's clang pipeline and cache.

mod rewrite;
mod support;

use std::path::PathBuf;
use std::process::Stdio;

use bpfhook::compile::{self, CompileOptions};

pub use rewrite::Entry;

#[derive(Debug, thiserror::Error)]
pub enum BccError {
    #[error(transparent)]
    Compile(#[from] compile::CompileError),
    #[error("{action}: {error}")]
    Io {
        action: String,
        error: std::io::Error,
    },
    #[error("failed to compile BPF module {source_name}:\n{diagnostics}")]
    Diagnostics {
        source_name: String,
        diagnostics: String,
    },
    #[error("{0}")]
    Tracepoint(String),
    #[error("reading clang's AST: {0}")]
    Ast(String),
}

pub(crate) fn io(action: impl Into<String>) -> impl FnOnce(std::io::Error) -> BccError {
    let action = action.into();
    move |error| BccError::Io { action, error }
}

/// A compiled BCC program: the object, the entry points the rewriter added, the rewritten C.
pub struct Compiled {
    pub object: PathBuf,
    pub entries: Vec<Entry>,
    pub rewritten: String,
    pub record_types: Vec<(String, String)>,
}

/// Compiles BCC-dialect C. `source_name` names it in diagnostics (a path, or `<text>`).
/// The rewrite is cached beside the sources (keyed by text, flags, the support files and the
/// rewriter itself), so a program seen before costs neither clang pass.
pub fn compile(text: &str, source_name: &str, cflags: &[String]) -> Result<Compiled, BccError> {
    let support = support::Support::prepare()?;
    let tracepoints = support.tracepoint_header(text)?;
    let mut key = blake3::Hasher::new();
    key.update(text.as_bytes());
    for flag in cflags {
        key.update(flag.as_bytes()).update(b"\0");
    }
    key.update(tracepoints.as_os_str().as_encoded_bytes());
    // A changed rewriter must not reuse what an older one wrote.
    key.update(include_str!("rewrite.rs").as_bytes());
    let key = key.finalize().to_hex();
    let stem = support.sources_dir().join(&key[..32]);
    let program = stem.with_extension("bpf.c");
    let facts = stem.with_extension("json");

    let rewritten = match cached_rewrite(&program, &facts) {
        Some(rewritten) => rewritten,
        None => {
            let source = stem.with_extension("c");
            write_if_changed(&source, text)?;
            let ast = shadow_ast(&support, &source, source_name, &tracepoints, cflags)?;
            let rewritten = rewrite::rewrite(text, &ast);
            write_if_changed(&program, &rewritten.text)?;
            // Written last: its presence says the rewritten file is complete.
            write_if_changed(&facts, &rewritten.facts_json())?;
            rewritten
        }
    };
    let mut flags = vec!["-include-pch".to_owned(), support.real_pch()];
    flags.extend(support.include_flags(&tracepoints));
    flags.extend(cflags.iter().cloned());
    let compiled = compile::compile(
        &program,
        &CompileOptions {
            cflags: flags,
            no_cache: false,
        },
    )?;
    Ok(Compiled {
        object: compiled.object,
        entries: rewritten.entries,
        rewritten: rewritten.text,
        record_types: rewritten.record_types,
    })
}

/// clang's JSON AST of the program under the shadow header; its diagnostics on failure.
fn shadow_ast(
    support: &support::Support,
    source: &std::path::Path,
    source_name: &str,
    tracepoints: &std::path::Path,
    cflags: &[String],
) -> Result<serde_json::Value, BccError> {
    let output = compile::clang_command()?
        .arg("-D__BCC_SHADOW")
        .arg("-include-pch")
        .arg(support.shadow_pch())
        .args(support.include_flags(tracepoints))
        .args(cflags)
        .args(["-fsyntax-only", "-Xclang", "-ast-dump=json"])
        .arg(source)
        .stdin(Stdio::null())
        .output()
        .map_err(io("running clang"))?;
    if !output.status.success() {
        let diagnostics = String::from_utf8_lossy(&output.stderr)
            .replace(&source.display().to_string(), source_name);
        return Err(BccError::Diagnostics {
            source_name: source_name.to_owned(),
            diagnostics,
        });
    }
    serde_json::from_slice(&output.stdout).map_err(|e| BccError::Ast(e.to_string()))
}

fn cached_rewrite(
    program: &std::path::Path,
    facts: &std::path::Path,
) -> Option<rewrite::Rewritten> {
    let facts = std::fs::read_to_string(facts).ok()?;
    let text = std::fs::read_to_string(program).ok()?;
    rewrite::Rewritten::from_facts_json(text, &facts)
}

/// Writes `text` unless the file already holds it (keeps the compile cache's mtime checks
/// quiet and lets parallel runs share files).
pub(crate) fn write_if_changed(path: &std::path::Path, text: &str) -> Result<(), BccError> {
    if std::fs::read(path).is_ok_and(|old| old == text.as_bytes()) {
        return Ok(());
    }
    let temporary = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&temporary, text).map_err(io(format!("writing {}", temporary.display())))?;
    std::fs::rename(&temporary, path).map_err(io(format!("storing {}", path.display())))
}

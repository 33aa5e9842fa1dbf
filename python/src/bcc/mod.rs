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
pub fn compile(text: &str, source_name: &str, cflags: &[String]) -> Result<Compiled, BccError> {
    let support = support::Support::prepare()?;
    let tracepoints = support.tracepoint_header(text)?;
    let key = blake3::hash(text.as_bytes()).to_hex();
    let source = support.sources_dir().join(format!("{}.c", &key[..32]));
    write_if_changed(&source, text)?;

    let mut shadow = compile::clang_command()?;
    shadow
        .arg("-D__BCC_SHADOW")
        .arg("-include-pch")
        .arg(support.shadow_pch())
        .args(support.include_flags(&tracepoints))
        .args(cflags)
        .args(["-fsyntax-only", "-Xclang", "-ast-dump=json"])
        .arg(&source)
        .stdin(Stdio::null());
    let output = shadow.output().map_err(io("running clang"))?;
    if !output.status.success() {
        let diagnostics = String::from_utf8_lossy(&output.stderr)
            .replace(&source.display().to_string(), source_name);
        return Err(BccError::Diagnostics {
            source_name: source_name.to_owned(),
            diagnostics,
        });
    }
    let ast: serde_json::Value =
        serde_json::from_slice(&output.stdout).map_err(|e| BccError::Ast(e.to_string()))?;
    let rewritten = rewrite::rewrite(text, &ast);

    let program = support.sources_dir().join(format!("{}.bpf.c", &key[..32]));
    write_if_changed(&program, &rewritten.text)?;
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

//! C to eBPF object: clang with the right target and include path, behind a content-addressed
//! cache so a second `run` of the same program does not call clang.
//!
//! The include path gives programs a `vmlinux.h` written from the running kernel's BTF, the
//! system's libbpf headers and the multiarch kernel headers (`asm/types.h` lives under
//! `/usr/include/<triplet>` on Debian).
//!
//! Cache entries live under `$XDG_CACHE_HOME/bpfhook` (or `~/.cache/bpfhook`). An entry is found
//! by a key over everything known before compiling (source bytes, flags, the clang binary, the
//! kernel, bpfhook's version); its manifest then lists every file clang read, with a hash of
//! each, and a hash of the object. The entry is used only if all of those still match, so an
//! edited header or a damaged object means a rebuild, never a stale or broken load.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// How to compile.
#[derive(Debug, Clone, Default)]
pub struct CompileOptions {
    /// Extra clang flags (`-I…`, `-D…`), after ours.
    pub cflags: Vec<String>,
    /// Build even if a cached object matches.
    pub no_cache: bool,
}

/// A compiled object on disk.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub object: PathBuf,
    /// True when the object came from the cache and clang did not run.
    pub cached: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error("clang is not installed (or not in $PATH): install it with `apt-get install clang libbpf-dev` on Debian/Ubuntu")]
    ClangMissing,
    #[error("clang failed on {source_file}{hint}")]
    Clang { source_file: String, hint: String },
    #[error("{action}: {error}")]
    Io {
        action: String,
        error: std::io::Error,
    },
    #[error("writing vmlinux.h: {0}")]
    Header(String),
}

fn io(action: impl Into<String>) -> impl FnOnce(std::io::Error) -> CompileError {
    let action = action.into();
    move |error| CompileError::Io { action, error }
}

/// The cache root: `$XDG_CACHE_HOME/bpfhook`, else `$HOME/.cache/bpfhook`, else /tmp.
pub fn cache_dir() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("bpfhook")
}

/// Compiles `source` to an eBPF object, from the cache when nothing it depends on changed.
pub fn compile(source: &Path, options: &CompileOptions) -> Result<Compiled, CompileError> {
    let clang = find_clang().ok_or(CompileError::ClangMissing)?;
    let cache = cache_dir();
    let source_bytes = fs::read(source).map_err(io(format!("reading {}", source.display())))?;
    let kernel = kernel_identity();
    let mut key = blake3::Hasher::new();
    key.update(&source_bytes);
    key.update(
        source
            .canonicalize()
            .unwrap_or_else(|_| source.to_path_buf())
            .as_os_str()
            .as_encoded_bytes(),
    );
    for flag in &options.cflags {
        key.update(flag.as_bytes()).update(b"\0");
    }
    key.update(file_identity(&clang).as_bytes());
    key.update(kernel.as_bytes());
    key.update(env!("CARGO_PKG_VERSION").as_bytes());
    let key = key.finalize().to_hex();
    let entry = cache.join("objects").join(&key[..32]);
    let object = entry.with_extension("o");
    let manifest = entry.with_extension("manifest");

    if !options.no_cache && manifest_matches(&manifest, &object) {
        return Ok(Compiled {
            object,
            cached: true,
        });
    }

    fs::create_dir_all(cache.join("objects"))
        .map_err(io(format!("creating {}", cache.display())))?;
    let temporary = entry.with_extension(format!("tmp{}", std::process::id()));
    let depfile = temporary.with_extension("d");
    let output = clang_command()?
        .args(["-g", "-O2"])
        .args(&options.cflags)
        .arg("-MD")
        .arg("-MF")
        .arg(&depfile)
        .arg("-c")
        .arg(source)
        .arg("-o")
        .arg(&temporary)
        .output()
        .map_err(io(format!("running {}", clang.display())))?;
    // clang's diagnostics go to the user exactly as clang printed them.
    let _ = std::io::stderr().write_all(&output.stderr);
    if !output.status.success() {
        let _ = fs::remove_file(&temporary);
        let _ = fs::remove_file(&depfile);
        return Err(CompileError::Clang {
            source_file: source.display().to_string(),
            hint: missing_header_hint(&String::from_utf8_lossy(&output.stderr)),
        });
    }
    let deps = fs::read_to_string(&depfile).unwrap_or_default();
    let _ = fs::remove_file(&depfile);
    write_manifest(&manifest, &temporary, &parse_depfile(&deps))?;
    fs::rename(&temporary, &object).map_err(io(format!("storing {}", object.display())))?;
    Ok(Compiled {
        object,
        cached: false,
    })
}

/// clang with the pipeline's target, defines and include path (the generated vmlinux.h, the
/// multiarch headers): what `compile` runs, for callers that need clang's view of a program
/// without building it (a `-fsyntax-only` pass that reads clang's AST).
pub fn clang_command() -> Result<Command, CompileError> {
    let clang = find_clang().ok_or(CompileError::ClangMissing)?;
    let include = vmlinux_include_dir(&cache_dir(), &kernel_identity())?;
    let mut command = Command::new(clang);
    command
        .args(["-target", "bpf"])
        .arg(format!("-D__TARGET_ARCH_{}", target_arch()))
        .arg("-I")
        .arg(&include)
        .arg(format!(
            "-I/usr/include/{}-linux-gnu",
            std::env::consts::ARCH
        ));
    Ok(command)
}

fn find_clang() -> Option<PathBuf> {
    crate::attach::search_path("clang")
}

/// What identifies a binary without running it: its real path, size and modification time.
fn file_identity(path: &Path) -> String {
    let real = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    match fs::metadata(&real) {
        Ok(m) => format!("{}:{}:{}", real.display(), m.len(), m.mtime()),
        Err(_) => real.display().to_string(),
    }
}

/// The running kernel's build (release, version string) and the size of its BTF: what cached
/// facts about the kernel are keyed by.
pub(crate) fn kernel_identity() -> String {
    let read = |p: &str| fs::read_to_string(p).unwrap_or_default();
    let btf_len = fs::metadata("/sys/kernel/btf/vmlinux").map_or(0, |m| m.len());
    format!(
        "{}|{}|{btf_len}",
        read("/proc/sys/kernel/osrelease").trim(),
        read("/proc/sys/kernel/version").trim()
    )
}

fn target_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "x86",
        "aarch64" => "arm64",
        "powerpc64" => "powerpc",
        "riscv64" => "riscv",
        "s390x" => "s390",
        "loongarch64" => "loongarch",
        other => other,
    }
}

/// A directory holding `vmlinux.h` for the running kernel, written once per kernel build.
fn vmlinux_include_dir(cache: &Path, kernel: &str) -> Result<PathBuf, CompileError> {
    let dir = cache
        .join("vmlinux")
        .join(&blake3::hash(kernel.as_bytes()).to_hex()[..32]);
    let header = dir.join("vmlinux.h");
    if header.is_file() {
        return Ok(dir);
    }
    fs::create_dir_all(&dir).map_err(io(format!("creating {}", dir.display())))?;
    let btf = crate::btf::Btf::from_file("/sys/kernel/btf/vmlinux")
        .map_err(|e| CompileError::Header(e.to_string()))?;
    let mut text = Vec::new();
    crate::btf::write_c_header(&btf, &mut text).map_err(|e| CompileError::Header(e.to_string()))?;
    let temporary = dir.join(format!("vmlinux.h.tmp{}", std::process::id()));
    fs::write(&temporary, text).map_err(io(format!("writing {}", temporary.display())))?;
    fs::rename(&temporary, &header).map_err(io(format!("storing {}", header.display())))?;
    Ok(dir)
}

/// The prerequisites of a make-style depfile (`out.o: a.c b.h \` …), the object excluded.
fn parse_depfile(text: &str) -> Vec<PathBuf> {
    let joined = text.replace("\\\n", " ");
    let Some((_, prerequisites)) = joined.split_once(": ") else {
        return Vec::new();
    };
    prerequisites
        .split_whitespace()
        .map(PathBuf::from)
        .collect()
}

/// Manifest lines: `object HASH`, then `dep HASH PATH` per file clang read.
fn write_manifest(manifest: &Path, object: &Path, deps: &[PathBuf]) -> Result<(), CompileError> {
    let mut text = format!("object {}\n", hash_file(object).unwrap_or_default());
    for dep in deps {
        text.push_str(&format!(
            "dep {} {}\n",
            hash_file(dep).unwrap_or_default(),
            dep.display()
        ));
    }
    let temporary = manifest.with_extension(format!("manifest.tmp{}", std::process::id()));
    fs::write(&temporary, text).map_err(io(format!("writing {}", temporary.display())))?;
    fs::rename(&temporary, manifest).map_err(io(format!("storing {}", manifest.display())))
}

/// Whether the cached object is intact and everything it was built from is unchanged.
fn manifest_matches(manifest: &Path, object: &Path) -> bool {
    let Ok(text) = fs::read_to_string(manifest) else {
        return false;
    };
    let mut lines = text.lines();
    let object_ok = lines
        .next()
        .and_then(|l| l.strip_prefix("object "))
        .is_some_and(|h| !h.is_empty() && hash_file(object).as_deref() == Some(h));
    object_ok
        && lines.all(|line| {
            let mut parts = line.splitn(3, ' ');
            match (parts.next(), parts.next(), parts.next()) {
                (Some("dep"), Some(hash), Some(path)) => {
                    hash_file(Path::new(path)).as_deref() == Some(hash)
                }
                _ => false,
            }
        })
}

fn hash_file(path: &Path) -> Option<String> {
    fs::read(path)
        .ok()
        .map(|bytes| blake3::hash(&bytes).to_hex().to_string())
}

/// clang's "file not found" for a header, turned into the package that provides it.
fn missing_header_hint(stderr: &str) -> String {
    let Some(header) = stderr.lines().find_map(|l| {
        l.split("fatal error: '")
            .nth(1)?
            .split("' file not found")
            .next()
    }) else {
        return String::new();
    };
    let package = if header.starts_with("bpf/") {
        "libbpf-dev"
    } else if header.starts_with("linux/")
        || header.starts_with("asm/")
        || header.starts_with("asm-generic/")
    {
        "linux-libc-dev"
    } else if header.starts_with("sys/sdt.h") {
        "systemtap-sdt-dev"
    } else {
        return format!(": header `{header}` is not on the include path (add -I with --cflags)");
    };
    format!(": header `{header}` is missing; it comes with `apt-get install {package}`")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depfiles_list_prerequisites() {
        let text = "/c/x.tmp: prog.bpf.c /usr/include/bpf/bpf_helpers.h \\\n  /cache/vmlinux.h\n";
        assert_eq!(
            parse_depfile(text),
            [
                "prog.bpf.c",
                "/usr/include/bpf/bpf_helpers.h",
                "/cache/vmlinux.h"
            ]
            .map(PathBuf::from)
        );
        assert!(parse_depfile("").is_empty());
    }

    #[test]
    fn missing_headers_name_their_package() {
        let err = "p.c:2:10: fatal error: 'bpf/bpf_helpers.h' file not found\n#include <bpf/bpf_helpers.h>";
        assert_eq!(
            missing_header_hint(err),
            ": header `bpf/bpf_helpers.h` is missing; it comes with `apt-get install libbpf-dev`"
        );
        assert!(
            missing_header_hint("fatal error: 'asm/types.h' file not found")
                .contains("linux-libc-dev")
        );
        assert!(missing_header_hint("fatal error: 'mine.h' file not found").contains("add -I"));
        assert_eq!(missing_header_hint("p.c:1:1: error: expected ';'"), "");
    }
}

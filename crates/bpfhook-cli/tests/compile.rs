//! `bpfhook run FILE.c` and `bpfhook build`: clang with a generated vmlinux.h, the cache, and
//! clear errors. Each test has its own cache directory, and counts clang calls through a
//! wrapper placed first in $PATH.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use bpfhook_testkit::{program_loaded, repo_root, TempPath};

/// A temporary directory (cache, sources, clang wrapper), removed on drop.
struct Scratch(TempPath);

impl Scratch {
    fn new() -> Self {
        let dir = TempPath::dir("bpfhook-compile-");
        std::fs::create_dir_all(dir.join("bin")).expect("scratch dir");
        // Counts every clang call, then runs the real clang.
        let real = bpfhook_testkit::sh("sh", &["-c", "command -v clang"]);
        let wrapper = format!(
            "#!/bin/sh\necho call >> {}/clang-calls\nexec {} \"$@\"\n",
            dir.path().display(),
            real.trim()
        );
        let path = dir.join("bin/clang");
        std::fs::write(&path, wrapper).expect("clang wrapper");
        bpfhook_testkit::sh("chmod", &["+x", path.to_str().expect("utf-8")]);
        Self(dir)
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).expect("writing a source");
        path
    }

    fn clang_calls(&self) -> usize {
        std::fs::read_to_string(self.0.join("clang-calls")).map_or(0, |s| s.lines().count())
    }

    /// Runs bpfhook with this scratch's cache and clang wrapper (or `path` as $PATH).
    fn bpfhook(&self, args: &[&str], path: Option<&str>) -> (String, String, Output) {
        let default_path = format!(
            "{}:{}",
            self.0.join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let output = Command::new(env!("CARGO_BIN_EXE_bpfhook"))
            .args(args)
            .env("XDG_CACHE_HOME", self.0.join("cache"))
            .env("PATH", path.unwrap_or(&default_path))
            .output()
            .expect("bpfhook runs");
        (
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
            output,
        )
    }

    fn cached_objects(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.0.join("cache/bpfhook/objects"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "o"))
            .collect()
    }
}

fn s(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

#[test]
fn seed_hello_from_source_and_the_second_run_uses_the_cache() {
    let scratch = Scratch::new();
    let hello = repo_root().join("examples/hello.bpf.c");
    let args = ["run", s(&hello), "--", "/bin/true"];

    let (out, err, output) = scratch.bpfhook(&args, None);
    assert!(output.status.success(), "{err}");
    assert!(err.contains("compiled"), "{err}");
    assert!(out.contains("Hello, eBPF World!"), "{out}");
    assert_eq!(scratch.clang_calls(), 1);

    let (out, err, output) = scratch.bpfhook(&args, None);
    assert!(output.status.success(), "{err}");
    assert!(err.contains("unchanged, using the cached object"), "{err}");
    assert!(out.contains("Hello, eBPF World!"), "{out}");
    assert_eq!(scratch.clang_calls(), 1, "the cached run called clang");

    let (_, err, output) =
        scratch.bpfhook(&["run", s(&hello), "--no-cache", "--duration", "0"], None);
    assert!(output.status.success(), "{err}");
    assert_eq!(scratch.clang_calls(), 2, "--no-cache did not rebuild");
}

#[test]
fn a_damaged_cache_entry_is_rebuilt_not_trusted() {
    let scratch = Scratch::new();
    let hello = repo_root().join("examples/hello.bpf.c");
    let args = ["run", s(&hello), "--", "/bin/true"];
    assert!(scratch.bpfhook(&args, None).2.status.success());
    for object in scratch.cached_objects() {
        std::fs::write(&object, b"\x7fELF damaged").expect("damaging the cache");
    }
    let (out, err, output) = scratch.bpfhook(&args, None);
    assert!(output.status.success(), "{err}");
    assert!(err.contains("compiled"), "{err}");
    assert!(out.contains("Hello, eBPF World!"), "{out}");
    assert_eq!(scratch.clang_calls(), 2);
}

#[test]
fn an_edited_header_invalidates_the_cache() {
    let scratch = Scratch::new();
    scratch.file("greeting.h", "#define GREETING \"first\"\n");
    let source = scratch.file(
        "greet.bpf.c",
        "#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n#include \"greeting.h\"\n\
         char _license[] SEC(\"license\") = \"GPL\";\n\
         SEC(\"tracepoint/syscalls/sys_enter_execve\") int greet(void *ctx) { bpf_printk(GREETING); return 0; }\n",
    );
    let args = ["run", s(&source), "--", "/bin/true"];
    let (out, _, _) = scratch.bpfhook(&args, None);
    assert!(out.contains(": first"), "{out}");
    scratch.file("greeting.h", "#define GREETING \"second\"\n");
    let (out, err, output) = scratch.bpfhook(&args, None);
    assert!(output.status.success(), "{err}");
    assert!(out.contains(": second"), "stale object used: {out}");
    assert_eq!(scratch.clang_calls(), 2);
}

#[test]
fn core_reads_through_the_generated_vmlinux_h_give_our_pid_and_comm() {
    let scratch = Scratch::new();
    let source = repo_root().join("tests/bpf/core_task.bpf.c");
    // sh prints its pid, then execs: that execve comes from the pid sh printed, with comm `sh`.
    let (out, err, output) = scratch.bpfhook(
        &[
            "run",
            s(&source),
            "--",
            "sh",
            "-c",
            "echo PID=$$; exec /bin/true",
        ],
        None,
    );
    assert!(output.status.success(), "{err}");
    let pid = out
        .lines()
        .find_map(|l| l.strip_prefix("PID="))
        .expect("sh printed its pid")
        .trim()
        .to_owned();
    assert!(out.contains(&format!("core tgid={pid} comm=sh")), "{out}");
}

#[test]
fn build_writes_an_object_that_runs() {
    let scratch = Scratch::new();
    let output_path = scratch.0.join("hello.o");
    let hello = repo_root().join("examples/hello.bpf.c");
    let (out, err, output) = scratch.bpfhook(&["build", s(&hello), "-o", s(&output_path)], None);
    assert!(output.status.success(), "{err}");
    assert_eq!(out.trim(), s(&output_path));
    let (out, err, output) = scratch.bpfhook(&["run", s(&output_path), "--", "/bin/true"], None);
    assert!(output.status.success(), "{err}");
    assert!(out.contains("Hello, eBPF World!"), "{out}");
}

#[test]
fn cflags_reach_clang() {
    let scratch = Scratch::new();
    let source = scratch.file(
        "flag.bpf.c",
        "#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n\
         char _license[] SEC(\"license\") = \"GPL\";\n\
         SEC(\"tracepoint/syscalls/sys_enter_execve\") int flag(void *ctx) { bpf_printk(MESSAGE); return 0; }\n",
    );
    let (out, err, output) = scratch.bpfhook(
        &[
            "run",
            s(&source),
            "--cflags",
            "-DMESSAGE=\"from-cflags\"",
            "--",
            "/bin/true",
        ],
        None,
    );
    assert!(output.status.success(), "{err}");
    assert!(out.contains(": from-cflags"), "{out}");
}

#[test]
fn a_syntax_error_shows_clangs_diagnostic_and_loads_nothing() {
    let scratch = Scratch::new();
    let source = scratch.file(
        "broken.bpf.c",
        "#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n\
         SEC(\"tracepoint/syscalls/sys_enter_execve\") int broken_prog(void *ctx) { return 0 }\n",
    );
    let (_, err, output) = scratch.bpfhook(&["run", s(&source)], None);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(
        err.contains("broken.bpf.c:3:"),
        "no file:line diagnostic: {err}"
    );
    assert!(err.contains("expected ';'"), "{err}");
    assert!(err.contains("bpfhook: clang failed on"), "{err}");
    assert!(!program_loaded("broken_prog"));
}

#[test]
fn missing_clang_says_what_to_install() {
    let scratch = Scratch::new();
    let hello = repo_root().join("examples/hello.bpf.c");
    let (_, err, output) = scratch.bpfhook(&["run", s(&hello)], Some("/nonexistent"));
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains("apt-get install clang libbpf-dev"), "{err}");
}

#[test]
fn missing_headers_are_named_with_their_package() {
    let scratch = Scratch::new();
    let source = scratch.file(
        "nohdr.bpf.c",
        "#include <bpf/bpf_no_such_header.h>\nint x;\n",
    );
    let (_, err, output) = scratch.bpfhook(&["build", s(&source)], None);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(
        err.contains("fatal error: 'bpf/bpf_no_such_header.h' file not found"),
        "{err}"
    );
    assert!(
        err.contains("it comes with `apt-get install libbpf-dev`"),
        "{err}"
    );
    let source = scratch.file("mine.bpf.c", "#include \"my_missing.h\"\nint x;\n");
    let (_, err, _) = scratch.bpfhook(&["build", s(&source)], None);
    assert!(
        err.contains("header `my_missing.h` is not on the include path"),
        "{err}"
    );
}

#[test]
fn btf_dump_writes_a_header_and_a_raw_listing() {
    let scratch = Scratch::new();
    let (out, err, output) = scratch.bpfhook(&["btf", "dump"], None);
    assert!(output.status.success(), "{err}");
    assert!(
        out.starts_with("#ifndef __VMLINUX_H__"),
        "{}",
        &out[..100.min(out.len())]
    );
    assert!(out.contains("struct task_struct {"));
    let (out, _, output) = scratch.bpfhook(&["btf", "dump", "--format", "raw"], None);
    assert!(output.status.success());
    assert!(
        out.lines().any(|l| l.starts_with("[1] INT ")),
        "{}",
        &out[..200.min(out.len())]
    );
    let (_, err, output) = scratch.bpfhook(&["btf", "dump", "/bin/true"], None);
    assert_eq!(output.status.code(), Some(1));
    assert!(err.contains("BTF"), "{err}");
}

//! `bpfhook list`, `format` and `kallsyms` as a user runs them: the real binary on the real
//! kernel. Read-only, so parallel-safe.

use std::collections::BTreeSet;
use std::process::Command;

struct Run {
    stdout: String,
    stderr: String,
    code: Option<i32>,
}

fn bpfhook(args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_bpfhook"))
        .args(args)
        .output()
        .expect("running bpfhook");
    let run = Run {
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        code: output.status.code(),
    };
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    run
}

fn ok(args: &[&str]) -> String {
    let run = bpfhook(args);
    assert_eq!(run.code, Some(0), "{args:?}: {}", run.stderr);
    run.stdout
}

/// Fails with exit code 1 and an error naming `expected`.
fn fails(args: &[&str], expected: &str) {
    let run = bpfhook(args);
    assert_eq!(run.code, Some(1), "{args:?} should fail: {}", run.stdout);
    assert!(
        run.stderr.starts_with("bpfhook: ") && run.stderr.contains(expected),
        "{args:?}: {}",
        run.stderr
    );
}

fn tracefs_file(path: &str) -> String {
    let root = bpfhook::kernel::tracefs::root().expect("tracefs");
    std::fs::read_to_string(root.join(path)).expect(path)
}

#[test]
fn list_matches_available_events() {
    let listed: BTreeSet<String> = ok(&["list", "tracepoint:syscalls:sys_enter_execve*"])
        .lines()
        .map(str::to_owned)
        .collect();
    let expected: BTreeSet<String> = tracefs_file("available_events")
        .lines()
        .filter(|e| e.starts_with("syscalls:sys_enter_execve"))
        .map(|e| format!("tracepoint:{e}"))
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(listed, expected);
    let all = ok(&["list", "--kind", "tracepoint"]);
    assert_eq!(
        all.lines().count(),
        tracefs_file("available_events").lines().count()
    );
}

#[test]
fn list_verbose_describes_each_hook_and_says_what_was_left_out() {
    let run = bpfhook(&["list", "-v", "*sys_enter_openat"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stdout
            .starts_with("tracepoint:syscalls:sys_enter_openat\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("    const char * filename;"),
        "{}",
        run.stdout
    );
    let kprobes = bpfhook::kernel::features::check(bpfhook::kernel::features::Feature::Kprobes);
    if let Err(missing) = kprobes {
        assert!(
            run.stderr.contains(&format!("left out kprobe: {missing}")),
            "{}",
            run.stderr
        );
        // --all lists them anyway (from kallsyms or available_filter_functions).
        let all = ok(&["list", "--all", "kprobe:do_sys_openat2"]);
        assert_eq!(all, "kprobe:do_sys_openat2\n");
    }
    let quiet = bpfhook(&["list", "*sys_enter_openat"]);
    assert!(quiet.stderr.is_empty(), "{}", quiet.stderr);
}

#[test]
fn list_uprobes_and_usdt_of_a_binary() {
    let bin = bpfhook_testkit::test_binary("discover_target");
    let bin = bin.to_str().expect("utf-8");
    let uprobes = ok(&["list", &format!("uprobe:{bin}:*discover*")]);
    assert_eq!(
        uprobes,
        format!("uprobe:{bin}:bpfhook_discover_alpha\nuprobe:{bin}:bpfhook_discover_beta\n")
    );
    let usdt = ok(&["list", "--binary", bin, "--kind", "usdt"]);
    assert!(
        usdt.contains(&format!("usdt:{bin}:bpfhook_test:beta_called\n")),
        "{usdt}"
    );
    let described = ok(&["format", &format!("usdt:{bin}:bpfhook_test:beta_called")]);
    assert!(described.contains("arguments: "), "{described}");
}

#[test]
fn format_shows_fields_and_prototypes() {
    let text = ok(&["format", "tracepoint:syscalls:sys_enter_openat"]);
    let format = tracefs_file("events/syscalls/sys_enter_openat/format");
    assert!(text.starts_with("tracepoint:syscalls:sys_enter_openat\n"));
    for field in ["filename", "flags", "mode"] {
        let line = format
            .lines()
            .find(|l| l.contains(&format!(" {field};")))
            .expect("field");
        let offset = line
            .split("offset:")
            .nth(1)
            .and_then(|r| r.split(';').next());
        let ours = text.lines().find(|l| l.contains(&format!(" {field};")));
        assert!(
            ours.zip(offset)
                .is_some_and(|(ours, offset)| ours.contains(&format!("offset {offset},"))),
            "{field}: {text}"
        );
    }
    let prototype = ok(&["format", "fentry:do_sys_openat2"]);
    assert!(
        prototype.contains(" do_sys_openat2(int dfd, const char *filename, struct open_how *how);"),
        "{prototype}"
    );
}

#[test]
fn kallsyms_search_and_legend() {
    let found = ok(&["kallsyms", "do_sys_openat2"]);
    let line = found.lines().next().expect("a line");
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(fields.len(), 3, "{line}");
    assert_eq!(fields[0].len(), 16, "{line}");
    assert!(
        matches!(fields[1], "t" | "T") && fields[2] == "do_sys_openat2",
        "{line}"
    );
    let contains = ok(&["kallsyms", "--contains", "sys_openat2"]);
    assert!(contains.lines().count() >= found.lines().count());
    assert!(contains.lines().all(|l| l.contains("sys_openat2")));
    let legend = ok(&["kallsyms", "--legend"]);
    for letters in ["T t", "D d", "R r", "B b", "W w", "U "] {
        assert!(legend.contains(letters), "{letters}: {legend}");
    }
}

#[test]
fn bad_inputs_fail_cleanly() {
    fails(&["list", "[abc"], "malformed glob `[abc`");
    fails(&["kallsyms", "[z-a]"], "backwards");
    fails(
        &["format", "tracepoint:nope:nope"],
        "`tracepoint:nope:nope` does not exist",
    );
    fails(
        &["format", "fentry:no_such_function_xyz"],
        "no function no_such_function_xyz",
    );
    fails(
        &["list", "uprobe:/no/such/binary:*"],
        "`/no/such/binary` does not exist",
    );
    fails(&["list", "--kind", "uprobe"], "needs a binary");
    fails(&["list", "--kind", "bogus"], "unknown hook kind `bogus`");
    let dir = bpfhook_testkit::TempPath::dir("bpfhook-cli-text-");
    let text = dir.join("hello.txt");
    std::fs::write(&text, "hello\n").expect("write");
    let path = text.to_str().expect("utf-8").to_owned();
    let run = bpfhook(&["list", "--binary", &path, "uprobe:*"]);
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("is not an ELF file"), "{}", run.stderr);
}

fn bpfhook_json(args: &[&str]) -> Vec<serde_json::Value> {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_bpfhook"))
        .args(args)
        .output()
        .expect("bpfhook runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn list_format_and_kallsyms_speak_json() {
    let hooks = bpfhook_json(&["list", "--json", "tracepoint:syscalls:sys_enter_execve"]);
    assert_eq!(hooks.len(), 1, "{hooks:?}");
    assert_eq!(hooks[0]["probe"], "tracepoint:syscalls:sys_enter_execve");
    assert_eq!(hooks[0]["kind"], "tracepoint");
    let verbose = bpfhook_json(&[
        "list",
        "--json",
        "-v",
        "tracepoint:syscalls:sys_enter_execve",
    ]);
    assert!(
        verbose[0]["details"]
            .as_str()
            .is_some_and(|d| d.contains("filename")),
        "{verbose:?}"
    );

    let format = bpfhook_json(&["format", "--json", "tracepoint:syscalls:sys_enter_openat"]);
    let fields = format[0]["fields"].as_array().expect("fields");
    let field = |name: &str| {
        fields
            .iter()
            .find(|f| f["name"] == name)
            .unwrap_or_else(|| panic!("no {name}"))
    };
    assert_eq!(field("filename")["offset"], 24);
    assert_eq!(field("flags")["offset"], 32);
    assert_eq!(field("mode")["size"], 8);

    let symbols = bpfhook_json(&["kallsyms", "--json", "do_sys_openat2"]);
    assert_eq!(symbols[0]["name"], "do_sys_openat2", "{symbols:?}");
    assert!(symbols[0]["type"]
        .as_str()
        .is_some_and(|t| t.eq_ignore_ascii_case("t")));
    assert_eq!(symbols[0]["address"].as_str().map(str::len), Some(16));
}

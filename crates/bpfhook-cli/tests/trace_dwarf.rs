//! `bpfhook trace` on uprobes typed from the binary's DWARF: `args.NAME`, `args` whole (printed,
//! stored, a map key), casts to the binary's structs, `-lv` listing the parameters, and the
//! errors where DWARF or a register is missing. Real uprobes on a real process.

mod trace_support;

use bpfhook_testkit::{shell_script, test_binary, TempPath};
use trace_support::trace;

/// `echo go | BINARY` in a shell: the target waits for the line, so it runs once attached.
fn fed(binary: &std::path::Path) -> (TempPath, String) {
    shell_script(&format!("echo go | {}", binary.display()))
}

fn run(script: &str) -> (String, String) {
    let target = test_binary("dwarf_target");
    let script = script.replace("BIN", &target.display().to_string());
    let (_file, command) = fed(&target);
    let (out, err, output) = trace(&["-c", &command, "-e", &script]);
    assert!(output.status.success(), "{script}: {err}");
    (out, err)
}

#[test]
fn args_are_named_and_typed_from_dwarf() {
    let (out, _) = run(
        r#"uprobe:BIN:dwarf_scalars { printf("x=%d c=%c count=%d\n", args.x, args.c, args.count); print(args); @[args] = args.colour; }
           uprobe:BIN:dwarf_pointers { printf("p.x=%d name=%s values=", args.p->x, args.p.name); print(args.p.values); print(args.n.at.x); }
           uprobe:BIN:dwarf_many { printf("f=%d\n", args.f); }"#,
    );
    let lines: Vec<&str> = out.lines().collect();
    for expected in [
        "x=-7 c=q count=9",
        "{ .x = -7, .c = 113, .count = 9, .colour = GREEN }",
        "p.x=42 name=origin values=[1,2,3]",
        "42",
        "f=6",
        "@[{ .x = -7, .c = 113, .count = 9, .colour = GREEN }]: GREEN",
    ] {
        assert!(lines.contains(&expected), "{expected:?} in {out}");
    }
}

#[test]
fn a_uprobe_casts_to_the_binary_structs_and_the_script_overrides_them() {
    let (out, _) = run(
        r#"uprobe:BIN:dwarf_pointers { printf("%d %s\n", ((struct point *)arg0)->x, ((struct point *)arg0)->name); }"#,
    );
    assert!(out.lines().any(|l| l == "42 origin"), "{out}");
    let (out, _) = run(
        r#"struct point { int a; } uprobe:BIN:dwarf_pointers { printf("a=%d\n", ((struct point *)arg0)->a); }"#,
    );
    assert!(out.lines().any(|l| l == "a=42"), "{out}");
}

#[test]
fn lv_lists_the_parameters() {
    let target = test_binary("dwarf_target");
    let probe = format!("uprobe:{}:dwarf_pointers", target.display());
    let (out, err, output) = trace(&["-lv", &probe]);
    assert!(output.status.success(), "{err}");
    for line in [
        "    struct point* p",
        "    const char* label",
        "    struct node* n",
    ] {
        assert!(out.lines().any(|l| l == line), "{line:?} in {out}");
    }
    let (out, _, _) = trace(&["--info"]);
    assert!(out.contains("libdw (DWARF support): yes"), "{out}");
}

#[test]
fn parameters_no_register_holds_and_missing_dwarf_are_clear_errors() {
    let target = test_binary("dwarf_target");
    let path = target.display();
    let cases = [
        (
            format!("uprobe:{path}:dwarf_by_value {{ print(args.p); }}"),
            "args.p cannot be read: p (struct point) of dwarf_by_value is a struct or union passed by value",
        ),
        (
            format!("uprobe:{path}:dwarf_by_value {{ print(args.wide); }}"),
            "a 128-bit integer (passed in two registers)",
        ),
        (
            format!("uprobe:{path}:dwarf_by_value {{ print(args); }}"),
            "args cannot be read whole",
        ),
        (
            format!("uprobe:{path}:dwarf_many {{ print(args.g); }}"),
            "only the first 6 integer arguments are in registers",
        ),
        (
            format!("uretprobe:{path}:dwarf_many {{ print(args.a); }}"),
            "The args builtin can only be used with",
        ),
    ];
    for (script, expected) in cases {
        let (_, err, output) = trace(&["-e", &script]);
        assert_eq!(output.status.code(), Some(1), "{script}: {err}");
        assert!(err.contains(expected), "{script}: {err}");
    }
    // The same binary without its DWARF.
    let dir = TempPath::dir("trace-dwarf");
    let stripped = dir.join("stripped");
    let status = std::process::Command::new("objcopy")
        .args([
            "--strip-debug".as_ref(),
            target.as_os_str(),
            stripped.as_os_str(),
        ])
        .status()
        .expect("objcopy");
    assert!(status.success());
    let script = format!(
        "uprobe:{}:dwarf_many {{ print(args.a); }}",
        stripped.display()
    );
    let (_, err, output) = trace(&["-e", &script]);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains("has no DWARF debug info"), "{err}");
}

//! Scratch memory past 32 KiB: the code's shape (small programs unchanged, big ones reaching
//! through r7/r8 into a CPU-indexed array) and begin probes run on the kernel with strings of
//! thousands of bytes where they used to be refused.

use bpfhook::asm::{Helper, Insn, R7, R8};

use super::{generate_programs, ScratchKind, MAX_PER_CPU_VALUE};
use crate::sema::Settings;
use crate::testutil::run_json;

fn settings(max_strlen: u32, positional: &[&str]) -> Settings {
    Settings {
        max_strlen,
        positional: positional.iter().map(|p| p.to_string()).collect(),
        ..Settings::default()
    }
}

/// The first program of `source` (a script without macros: parsed again, it has the ids the
/// analysis knows) generated for scratch of `kind`, and the scratch it needs.
fn generated(source: &str, settings: Settings, kind: ScratchKind) -> (Vec<Insn>, u32) {
    let script = crate::compile("stdin", source, settings).unwrap_or_else(|e| panic!("{e}"));
    let program = crate::parse(source).expect("parses");
    let generated = generate_programs(&program, &script.analysis, &script.compiled.maps, kind)
        .unwrap_or_else(|e| panic!("{e:?}"));
    let insns = generated.programs[0].program.insns.clone();
    (insns, generated.scratch_size)
}

fn uses(insn: &Insn, reg: bpfhook::asm::Reg) -> bool {
    match *insn {
        Insn::Load { dst, src, .. } | Insn::Store { dst, src, .. } => dst == reg || src == reg,
        Insn::StoreImm { dst, .. } => dst == reg,
        _ => false,
    }
}

/// The code of a program whose scratch needs the CPU-indexed array.
fn big(source: &str, settings: Settings) -> Vec<Insn> {
    let (insns, scratch) = generated(source, settings, ScratchKind::CpuIndexed);
    assert!(scratch > MAX_PER_CPU_VALUE, "{scratch} bytes");
    insns
}

/// The JSON records of a begin-only run.
fn records(source: &str, settings: Settings) -> Vec<serde_json::Value> {
    let (code, out) = run_json(source, settings, false);
    assert_eq!(code, 0, "{out}");
    out.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

fn printed_values(records: &[serde_json::Value]) -> Vec<serde_json::Value> {
    records
        .iter()
        .filter(|r| r["type"] == "value")
        .map(|r| r["data"].clone())
        .collect()
}

#[test]
fn small_programs_address_scratch_from_r9_alone() {
    let (insns, scratch) = generated(
        r#"begin { $t = (1, "x"); print($t); if ($t.1 == "x") { printf("%s\n", $t.1); } }"#,
        Settings::default(),
        ScratchKind::PerCpu,
    );
    assert!(scratch <= MAX_PER_CPU_VALUE);
    assert!(!insns.iter().any(|i| uses(i, R7) || uses(i, R8)));
    assert!(!insns.contains(&cpu_number()));
}

fn cpu_number() -> Insn {
    Insn::Call(bpfhook::asm::Call::Helper(Helper::GetSmpProcessorId.id()))
}

#[test]
fn a_tuple_holding_a_9999_byte_string_prints_whole() {
    // str(0) reads nothing but types $s as a whole 9999-byte buffer, which $1 then fills.
    let long = "X".repeat(5555);
    let source = "begin { $s = str(0); $s = str($1); print((1, (2, $s))); }";
    let insns = big(source, settings(9999, &[&long]));
    assert!(
        insns.iter().any(|i| uses(i, R8)),
        "far offsets go through r8"
    );
    assert!(
        insns.contains(&cpu_number()),
        "the scratch is the CPU's element"
    );
    let values = printed_values(&records(source, settings(9999, &[&long])));
    assert_eq!(values, [serde_json::json!([1, [2, long]])]);
}

#[test]
fn for_over_a_map_of_big_strings_sees_key_and_value() {
    let (key, value) = ("K".repeat(5555), "V".repeat(7000));
    let source = "begin { $k = str(0); $k = str($1); $v = str(0); $v = str($2); @m[$k] = $v; $n = 0; for ($kv : @m) { print($kv); $n += 1; } print($n); clear(@m); }";
    big(source, settings(9999, &[&key, &value]));
    let values = printed_values(&records(source, settings(9999, &[&key, &value])));
    assert_eq!(
        values,
        [serde_json::json!([key, value]), serde_json::json!(1)]
    );
}

#[test]
fn compares_and_scans_of_strings_past_32_kib() {
    // The 40000-byte variable comes first, so every temporary below sits past 32 KiB: both
    // operands of a compare are far (r8 and r7), as are strcontains and len.
    let source = r#"begin {
        $pad = str(0);
        if (str($1, 6) == str($1, 6)) { print("equal"); }
        if (str($1, 6) != str($2, 6)) { print("unequal"); }
        if (strncmp(str($1, 6), str($2, 6), 3) == 0) { print("prefix"); }
        if (strncmp(str($1, 6), str($2, 6), 4) != 0) { print("no longer"); }
        if (strcontains(str($1, 6), "llo")) { print("contains"); }
        print(len(str($2, 6)));
        print((7, str($2, 6), $pad == str($1)));
    }"#;
    let settings = || settings(40_000, &["hello", "help"]);
    let insns = big(source, settings());
    assert!(
        insns.iter().any(|i| uses(i, R7)),
        "second operands go through r7"
    );
    let values = printed_values(&records(source, settings()));
    assert_eq!(
        values,
        [
            serde_json::json!("equal"),
            serde_json::json!("unequal"),
            serde_json::json!("prefix"),
            serde_json::json!("no longer"),
            serde_json::json!("contains"),
            serde_json::json!(4),
            serde_json::json!([7, "help", false]),
        ]
    );
}

#[test]
fn scratch_past_the_limit_is_refused_naming_the_knob() {
    // Sixteen strings of the longest kind in one tuple: 256 KiB, and copies of it besides.
    let source = format!(
        "begin {{ $s = str(0); print(({})); }}",
        ["$s"; 16].join(", ")
    );
    let max_strlen = crate::sema::MAX_STRLEN as u32;
    let Err(error) = crate::compile("stdin", &source, settings(max_strlen, &[])) else {
        panic!("compiled");
    };
    let message = error.to_string();
    assert!(message.contains("limit 262144"), "{message}");
    assert!(message.contains("BPFTRACE_MAX_STRLEN"), "{message}");
}

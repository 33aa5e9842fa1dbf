//! Symbolization on this machine: the running kernel's kallsyms, this test process's own
//! mappings (its code and libc), and a stripped binary whose symbols live in a debug file.

use std::path::Path;

use bpfhook::kernel::kallsyms::Kallsyms;
use bpfhook::symbolize::{
    has_frame_pointers, InlinedFrame, KernelSymbolizer, SourceLine, UserSymbolizer,
};
use bpfhook_testkit::{repo_root, sh, test_binary_with, TempPath};
use object::{Object, ObjectSymbol};

#[test]
fn kernel_functions_by_address_and_nothing_below_the_first() {
    let kallsyms = Kallsyms::read().expect("reading /proc/kallsyms");
    let vfs_read = kallsyms
        .symbols()
        .find(|s| s.name == "vfs_read" && s.is_text())
        .map(|s| s.address)
        .expect("vfs_read in kallsyms");
    let lowest = kallsyms
        .symbols()
        .map(|s| s.address)
        .min()
        .expect("symbols");
    let symbolizer = KernelSymbolizer::new().expect("indexing kallsyms");
    let start = symbolizer.symbolize(vfs_read).expect("vfs_read");
    assert_eq!((start.name(), start.offset), ("vfs_read", 0));
    assert_eq!(start.module, None);
    let inside = symbolizer.symbolize(vfs_read + 8).expect("vfs_read+8");
    assert_eq!(inside.to_string(), "vfs_read+8");
    assert_eq!(symbolizer.symbolize(lowest - 1), None);
}

#[inline(never)]
#[no_mangle]
pub extern "C" fn bpfhook_symbolize_marker() -> u64 {
    std::hint::black_box(42)
}

/// getpid's address in libc itself, not the PLT stub `libc::getpid as usize` may point at.
fn libc_getpid() -> u64 {
    // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name only looks a symbol up.
    let address = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"getpid".as_ptr()) };
    assert!(!address.is_null(), "dlsym(getpid)");
    address as u64
}

#[test]
fn functions_of_this_process_and_its_libc() {
    let mut symbolizer = UserSymbolizer::new();
    let pid = std::process::id();
    let marker = bpfhook_symbolize_marker as *const () as u64;
    let own = symbolizer.symbolize(pid, marker + 1).expect("the marker");
    assert_eq!((own.name(), own.offset), ("bpfhook_symbolize_marker", 1));
    let exe = std::fs::read_link("/proc/self/exe").expect("/proc/self/exe");
    assert_eq!(own.module.as_deref().map(Path::new), Some(exe.as_path()));

    let getpid = symbolizer.symbolize(pid, libc_getpid()).expect("getpid");
    assert!(getpid.name().contains("getpid"), "{getpid:?}");
    assert!(
        getpid.module.as_deref().is_some_and(|m| m.contains("libc")),
        "{getpid:?}"
    );
    assert_eq!(symbolizer.symbolize(pid, 0x10), None);
}

#[test]
fn a_thousand_addresses_in_one_binary_parse_it_once() {
    let mut symbolizer = UserSymbolizer::new();
    let pid = std::process::id();
    let getpid = libc_getpid();
    let named = (0..1000u64)
        .filter_map(|i| symbolizer.symbolize(pid, getpid + i * 64))
        .count();
    assert!(named > 900, "{named} of 1000 libc addresses named");
    let stats = symbolizer.stats();
    assert_eq!((stats.binaries_parsed, stats.maps_read), (1, 1));
    symbolizer.forget(pid);
    assert!(symbolizer.symbolize(pid, getpid).is_some());
    let stats = symbolizer.stats();
    assert_eq!((stats.binaries_parsed, stats.maps_read), (1, 2));
}

#[test]
fn a_process_that_exited_has_no_symbols() {
    let mut child = std::process::Command::new("true")
        .spawn()
        .expect("spawning true");
    let pid = child.id();
    child.wait().expect("waiting for true");
    let mut symbolizer = UserSymbolizer::new();
    assert_eq!(symbolizer.symbolize(pid, libc_getpid()), None);
}

const PROGRAM: &str = "int debuglink_marker(int x) { return x * 3; }\n\
                       int main(int argc, char **argv) { return debuglink_marker(argc); }\n";

/// The marker's virtual address, from the debug file's symbol table.
fn marker_address(debug_file: &Path) -> u64 {
    let data = std::fs::read(debug_file).expect("reading the debug file");
    let elf = object::File::parse(&*data).expect("parsing the debug file");
    elf.symbols()
        .find(|s| s.name() == Ok("debuglink_marker"))
        .map(|s| s.address())
        .expect("debuglink_marker in the debug file")
}

#[test]
fn stripped_binaries_use_their_debuglink_beside_them_or_in_dot_debug() {
    let dir = TempPath::dir("bpfhook-symbolize");
    std::fs::write(dir.join("prog.c"), PROGRAM).expect("writing the source");
    std::fs::write(dir.join("other.c"), "int main(void) { return 0; }\n").expect("writing");
    let (prog, debug) = (dir.join("prog"), dir.join("prog.debug"));
    let in_dir = |command: &str| sh("sh", &["-c", &format!("cd {} && {command}", dir.as_str())]);
    in_dir("cc -g -O1 -o prog prog.c && objcopy --only-keep-debug prog prog.debug && objcopy --strip-all --add-gnu-debuglink=prog.debug prog");
    let address = marker_address(&debug);

    let beside = UserSymbolizer::new().symbolize_file(&prog, address + 2);
    assert_eq!(
        beside.map(|s| s.to_string()).as_deref(),
        Some("debuglink_marker+2")
    );

    std::fs::create_dir(dir.join(".debug")).expect("creating .debug");
    std::fs::rename(&debug, dir.join(".debug/prog.debug")).expect("moving the debug file");
    let in_dot_debug = UserSymbolizer::new().symbolize_file(&prog, address);
    assert_eq!(
        in_dot_debug.as_ref().map(|s| s.name()),
        Some("debuglink_marker")
    );
    assert_eq!(
        in_dot_debug.and_then(|s| s.module).as_deref(),
        Some(prog.to_str().expect("utf-8"))
    );

    // A debug file of another program (another build-id) is not believed.
    std::fs::remove_dir_all(dir.join(".debug")).expect("removing .debug");
    in_dir("cc -g -o prog.debug other.c");
    assert_eq!(UserSymbolizer::new().symbolize_file(&prog, address), None);
}

#[test]
fn frame_pointers_are_told_from_function_prologues() {
    let dir = TempPath::dir("bpfhook-frame-pointers");
    // Enough functions that call out (leaves keep no frame either way) to outvote the C
    // runtime's; `noinline` keeps each one whole.
    let functions: String = (0..40)
        .map(|i| {
            format!(
                "__attribute__((noinline)) long f{i}(long *p, long n) {{ long s = 0; \
                 for (long j = 0; j < n; j++) s += p[j] * {i}; printf(\"%ld\", s); return s; }}\n"
            )
        })
        .collect();
    let source = format!("#include <stdio.h>\n{functions}int main(void) {{ return 0; }}\n");
    std::fs::write(dir.join("f.c"), source).expect("writing the source");
    let build = |flag: &str, out: &str| {
        sh(
            "cc",
            &[
                "-O2",
                flag,
                "-o",
                &dir.join(out).to_string_lossy(),
                &dir.join("f.c").to_string_lossy(),
            ],
        )
    };
    build("-fno-omit-frame-pointer", "with");
    build("-fomit-frame-pointer", "without");
    assert_eq!(has_frame_pointers(&dir.join("with")), Some(true));
    assert_eq!(has_frame_pointers(&dir.join("without")), Some(false));
    assert_eq!(has_frame_pointers(&dir.join("f.c")), None);
}

#[test]
fn exited_processes_symbolize_through_fixed_address_programs_only() {
    let dir = TempPath::dir("bpfhook-symbolize-programs");
    std::fs::write(dir.join("prog.c"), PROGRAM).expect("writing the source");
    let in_dir = |command: &str| sh("sh", &["-c", &format!("cd {} && {command}", dir.as_str())]);
    in_dir("cc -g -O0 -no-pie -o fixed prog.c && cc -g -O0 -fpie -pie -o pie prog.c");
    let (fixed, pie) = (dir.join("fixed"), dir.join("pie"));
    let mut child = std::process::Command::new("true")
        .spawn()
        .expect("spawning true");
    let gone = child.id();
    child.wait().expect("waiting for true");

    let address = marker_address(&fixed);
    let mut symbolizer = UserSymbolizer::new();
    assert_eq!(symbolizer.symbolize(gone, address + 1), None);
    symbolizer.add_program(&fixed);
    let found = symbolizer.symbolize(gone, address + 1);
    assert_eq!(
        found.map(|s| s.to_string()).as_deref(),
        Some("debuglink_marker+1")
    );
    // Outside the program's segments: nothing, even where no symbol would stop the table.
    assert_eq!(symbolizer.symbolize(gone, 0x7fff_0000_0000), None);

    // A position-independent program's file addresses are not where a process ran it.
    let mut symbolizer = UserSymbolizer::new();
    symbolizer.add_program(&pie);
    assert_eq!(symbolizer.symbolize(gone, marker_address(&pie)), None);
}

#[test]
fn file_locations_give_the_build_id_and_offset_of_the_mapped_file() {
    let address = bpfhook_symbolize_marker as *const () as u64;
    let mut symbolizer = UserSymbolizer::new();
    let at = symbolizer
        .file_location(std::process::id(), address)
        .expect("this test binary is mapped");
    let exe = std::fs::read("/proc/self/exe").expect("reading the test binary");
    let elf = object::File::parse(&*exe).expect("parsing the test binary");
    let build_id: String = elf
        .build_id()
        .ok()
        .flatten()
        .unwrap_or_default()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(at.build_id, build_id);
    assert_eq!(
        at.path,
        std::fs::canonicalize("/proc/self/exe").expect("exe")
    );
    // The offset holds the function's first bytes.
    // SAFETY: the marker function's code is mapped and readable for this process's life.
    let code = unsafe { std::slice::from_raw_parts(address as *const u8, 8) };
    let offset = at.file_offset as usize;
    assert_eq!(&exe[offset..offset + 8], code);
}

#[test]
fn code_inlined_into_a_function_names_each_inlined_function_and_its_line() {
    // Fixed addresses (-no-pie): the process runs the code where its file says.
    let target = test_binary_with(
        "inline_target",
        &["-O2", "-fno-omit-frame-pointer", "-no-pie"],
    );
    let data = std::fs::read(&target).expect("reading the target");
    let elf = object::File::parse(&*data).expect("parsing the target");
    let outer = elf
        .symbols()
        .find(|s| s.name() == Ok("bpfhook_outer_fn"))
        .expect("bpfhook_outer_fn");
    // It waits for a line on stdin: mapped as long as we hold the pipe.
    let mut child = std::process::Command::new(&target)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawning the target");
    // spawn() can return while the kernel is still mapping the new image.
    let maps = format!("/proc/{}/maps", child.id());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !std::fs::read_to_string(&maps)
        .unwrap_or_default()
        .contains(target.to_str().expect("UTF-8 path"))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the target never mapped"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let mut symbolizer = UserSymbolizer::new();
    let found: Vec<_> = (outer.address()..outer.address() + outer.size())
        .map(|address| symbolizer.source_info(child.id(), address))
        .collect();
    drop(child.stdin.take());
    child.wait().expect("the target ends");

    let source = repo_root().join("tests/bin/inline_target.c");
    let text = std::fs::read_to_string(&source).expect("reading the source");
    let line_of = |needle: &str| SourceLine {
        file: source.display().to_string(),
        line: 1 + text.lines().position(|l| l.contains(needle)).expect(needle) as u32,
    };
    // Innermost first, each at the call it makes; the function's own line is the call site
    // of the outermost.
    let inlined = vec![
        InlinedFrame {
            function: "bpfhook_inlined_inner".into(),
            line: Some(line_of("return bpfhook_leaf_fn(x) ^")),
        },
        InlinedFrame {
            function: "bpfhook_inlined_outer".into(),
            line: Some(line_of("return bpfhook_inlined_inner(x)")),
        },
    ];
    let call = line_of("return bpfhook_inlined_outer(x)");
    assert!(
        found
            .iter()
            .any(|info| info.inlined == inlined && info.line.as_ref() == Some(&call)),
        "{found:#?}"
    );
    // Its prologue is its own code, not inlined.
    assert_eq!(found[0].inlined, []);
    assert!(found[0].line.is_some(), "{found:#?}");
}

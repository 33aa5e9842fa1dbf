//! Malformed objects: thousands of seeded mutants of every fixture object go through
//! `ObjectFile::parse` and the loader. Each must either fail with a message or load; nothing may
//! panic, no failure may come from the loader's panic boundary (validation must catch it first),
//! and whatever loaded must be gone from the kernel afterwards.
//!
//! The seed is fixed for CI; `BPFHOOK_MUTATION_SEED=N` runs another set by hand.

use std::os::fd::AsFd;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bpfhook::compile::{compile, CompileOptions};
use bpfhook::loader::{LoadError, LoadedObject};
use bpfhook::object::ObjectFile;
use bpfhook::sys::{self, ObjectKind};
use bpfhook_testkit::{
    bpf_fixture, mutation_seed, name_hash, panic_message, repo_root, Mutator, Rng,
};

/// Mutants per fixture object.
const MUTANTS: usize = 1000;
/// One mutant in this many that loads its maps also has its programs through the verifier.
const VERIFY_EVERY: usize = 32;

/// A fixture object and whether its mutants may go into the kernel.
struct Fixture {
    name: String,
    bytes: Vec<u8>,
    /// False for objects that pin maps by name: a pin outlives the load and is shared, by
    /// name, with every other test on the machine; their mutants are only parsed.
    load: bool,
}

/// Every object the test kit builds from `tests/bpf/`, and the prebuilt example.
fn fixture_objects() -> Vec<Fixture> {
    let dir = repo_root().join("tests/bpf");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("tests/bpf")
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            name.strip_suffix(".bpf.c").map(str::to_owned)
        })
        .collect();
    names.sort();
    let mut paths: Vec<(String, PathBuf, bool)> = names
        .into_iter()
        .map(|name| {
            let source = dir.join(format!("{name}.bpf.c"));
            let text = std::fs::read_to_string(&source).unwrap_or_default();
            // CO-RE fixtures include the vmlinux.h our compile pipeline generates.
            let path = if text.contains("\"vmlinux.h\"") {
                compile(&source, &CompileOptions::default())
                    .unwrap_or_else(|e| panic!("{name}: {e}"))
                    .object
            } else {
                bpf_fixture(&name)
            };
            (name, path, !text.contains("pinning"))
        })
        .collect();
    paths.push((
        "hello (prebuilt)".to_owned(),
        repo_root().join("examples/hello.bpf.o"),
        true,
    ));
    paths
        .into_iter()
        .map(|(name, path, load)| {
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
            Fixture { name, bytes, load }
        })
        .collect()
}

/// What happened to one mutant.
#[derive(Default)]
struct Tally {
    rejected_by_parse: usize,
    rejected_by_loader: usize,
    loaded: usize,
    programs_verified: usize,
    /// (fixture, mutant index, what) for every panic or boundary error.
    failures: Vec<String>,
    /// Kernel ids of everything that was created, checked for absence at the end.
    created: Vec<(ObjectKind, u32)>,
}

impl Tally {
    fn run(&mut self, bytes: &[u8], load: bool, verify: bool) -> Result<(), String> {
        let object = match ObjectFile::parse(bytes) {
            Ok(object) => object,
            Err(error) => {
                self.rejected_by_parse += 1;
                return non_empty(error.to_string());
            }
        };
        if !load {
            return Ok(());
        }
        let loaded = match LoadedObject::load(object.loader_bytes()) {
            Ok(loaded) => loaded,
            Err(error @ LoadError::ParserPanic { .. }) => return Err(format!("boundary: {error}")),
            Err(error) => {
                self.rejected_by_loader += 1;
                return non_empty(error.to_string());
            }
        };
        self.loaded += 1;
        self.created.extend(
            loaded
                .maps()
                .filter_map(|(_, map)| bpfhook::maps::id(map))
                .map(|id| (ObjectKind::Map, id)),
        );
        if verify {
            for program in object.programs() {
                // Tracing programs need a kernel function to attach to; none of them loads on
                // this kernel, so their rejection is all the check can see.
                match loaded.load_program(&program.name, bpfhook::loader::LoadFor::Section) {
                    Ok(fd) => {
                        self.programs_verified += 1;
                        let info = sys::prog_info(fd.as_fd(), &mut [], &mut [])
                            .map_err(|e| format!("prog info: {e}"))?;
                        self.created.push((ObjectKind::Program, info.id));
                    }
                    Err(error) => non_empty(error.to_string())?,
                }
            }
        }
        Ok(())
    }
}

fn non_empty(message: String) -> Result<(), String> {
    if message.trim().is_empty() {
        Err("an error with an empty message".to_owned())
    } else {
        Ok(())
    }
}

/// What the kernel still holds of `created` after up to 2 s (a released program or map is
/// freed after an RCU grace period).
fn still_held(mut created: Vec<(ObjectKind, u32)>) -> Vec<(ObjectKind, u32)> {
    created.sort_by_key(|&(kind, id)| (kind == ObjectKind::Map, id));
    created.dedup();
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        created.retain(|&(kind, id)| sys::fd_by_id(kind, id).is_ok());
        if created.is_empty() || Instant::now() > deadline {
            return created;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn mutants_of_every_fixture_fail_cleanly_or_load_and_unload() {
    let seed = mutation_seed();
    let started = Instant::now();
    let mut tally = Tally::default();
    let objects = fixture_objects();
    for Fixture {
        name,
        bytes: original,
        load,
    } in &objects
    {
        let mut rng = Rng::new(seed ^ name_hash(name));
        let mutator = Mutator::new(original);
        for index in 0..MUTANTS {
            let mutant = mutator.mutate(&mut rng);
            let verify = index % VERIFY_EVERY == 0;
            match catch_unwind(AssertUnwindSafe(|| tally.run(&mutant, *load, verify))) {
                Ok(Ok(())) => {}
                Ok(Err(what)) => tally.failures.push(format!("{name} #{index}: {what}")),
                Err(panic) => tally.failures.push(format!(
                    "{name} #{index}: panic: {}",
                    panic_message(&*panic)
                )),
            }
        }
    }
    let left = still_held(std::mem::take(&mut tally.created));
    eprintln!(
        "seed {seed}: {} mutants of {} objects in {:.1?}: {} rejected by parse, {} by the loader, \
         {} loaded ({} programs through the verifier)",
        MUTANTS * objects.len(),
        objects.len(),
        started.elapsed(),
        tally.rejected_by_parse,
        tally.rejected_by_loader,
        tally.loaded,
        tally.programs_verified,
    );
    assert!(
        tally.failures.is_empty(),
        "seed {seed}: {} failures (BPFHOOK_MUTATION_SEED={seed} reproduces):\n{}",
        tally.failures.len(),
        tally.failures.join("\n")
    );
    assert!(left.is_empty(), "left in the kernel: {left:?}");
    assert!(
        tally.rejected_by_parse > 0 && tally.loaded > 0,
        "the mutants should reach both outcomes"
    );
}

/// The prebuilt example with one little-endian u32 or u64 replaced.
fn hello_with(patch: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut bytes = std::fs::read(repo_root().join("examples/hello.bpf.o")).expect("hello.bpf.o");
    patch(&mut bytes);
    match ObjectFile::parse(&bytes) {
        Ok(_) => panic!("the damaged object parsed"),
        Err(error) => error.to_string(),
    }
}

/// File offset of a section's data and of its header.
fn locate(bytes: &[u8], name: &str) -> (usize, usize) {
    use ::object::{Object as _, ObjectSection as _};
    let elf = ::object::File::parse(bytes).expect("ELF");
    let section = elf.section_by_name(name).expect("section");
    let data = section.file_range().expect("file range").0 as usize;
    let shoff = u64::from_le_bytes(bytes[0x28..0x30].try_into().expect("8 bytes")) as usize;
    (data, shoff + section.index().0 * 64)
}

fn put_u32(bytes: &mut [u8], at: usize, value: u32) {
    bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

#[test]
fn errors_name_the_section_and_what_is_wrong() {
    let message = hello_with(|b| {
        let (_, header) = locate(b, "tracepoint/syscalls/sys_enter_execve");
        let len = b.len() as u64;
        b[header + 24..header + 32].copy_from_slice(&len.to_le_bytes());
    });
    assert!(
        message.starts_with("malformed object: section ")
            && message.contains("(`tracepoint/syscalls/sys_enter_execve`): data at offset")
            && message.contains("extends past the end of the file"),
        "{message}"
    );

    // The BTF string section longer than the blob.
    let message = hello_with(|b| {
        let (btf, _) = locate(b, ".BTF");
        put_u32(b, btf + 20, 0x10_0000);
    });
    assert!(message.contains("(`.BTF`): BTF is truncated"), "{message}");

    // A func_info record size of zero: aya-obj would split the records into chunks of 0.
    let message = hello_with(|b| {
        let (ext, _) = locate(b, ".BTF.ext");
        let hdr_len = u32::from_le_bytes(b[ext + 4..ext + 8].try_into().expect("4 bytes"));
        let func_info = u32::from_le_bytes(b[ext + 8..ext + 12].try_into().expect("4 bytes"));
        put_u32(b, ext + (hdr_len + func_info) as usize, 0);
    });
    assert!(
        message.contains("(`.BTF.ext`): func_info: record size 0"),
        "{message}"
    );

    // A func_info group whose record count runs past the subsection.
    let message = hello_with(|b| {
        let (ext, _) = locate(b, ".BTF.ext");
        let hdr_len = u32::from_le_bytes(b[ext + 4..ext + 8].try_into().expect("4 bytes"));
        let func_info = u32::from_le_bytes(b[ext + 8..ext + 12].try_into().expect("4 bytes"));
        put_u32(b, ext + (hdr_len + func_info) as usize + 8, 1000);
    });
    assert!(
        message.contains("func_info: 1000 records of 8 bytes at byte 4 overrun the subsection"),
        "{message}"
    );
}

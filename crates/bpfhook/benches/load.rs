//! Loading cost per object: bpfhook's Manager (its own loader, which reads the kernel BTF only
//! for CO-RE objects, once per process) against aya's default path (a new `EbpfLoader`, which
//! parses the kernel BTF, per object) and against `bpftool prog load`, all on the same object
//! in one run. Needs root.
//!
//! `cargo bench -p bpfhook --bench load [-- OBJECT [N]]` (default: examples/hello.bpf.o, N = 10)

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use aya::programs::TracePoint;
use bpfhook::manager::ManagerBuilder;
use bpfhook::object::ObjectFile;

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let object_path = args.next().map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/hello.bpf.o")
    });
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(10);
    let object = ObjectFile::from_path(&object_path).expect("object parses");
    println!("object: {} ({n} loads each)", object_path.display());

    // bpfhook: a CO-RE object's first load pays the kernel BTF parse; the rest share it.
    let mut managers = Vec::new();
    let mut shared = Vec::new();
    for _ in 0..n {
        let start = Instant::now();
        managers.push(ManagerBuilder::new(&object).attach().expect("attach"));
        shared.push(start.elapsed());
    }
    drop(managers);
    report("bpfhook, first load", &shared[..1]);
    report("bpfhook, later loads (2..N)", &shared[1..]);

    // aya's default: a fresh loader per object.
    let mut loaded = Vec::new();
    let mut separate = Vec::new();
    for _ in 0..n {
        let start = Instant::now();
        let mut ebpf = aya::Ebpf::load(object.loader_bytes()).expect("aya load");
        for (_, program) in ebpf.programs_mut() {
            let tp: &mut TracePoint = program.try_into().expect("a tracepoint object");
            tp.load().expect("verifier");
            tp.attach("syscalls", "sys_enter_execve").expect("attach");
        }
        separate.push(start.elapsed());
        loaded.push(ebpf);
    }
    drop(loaded);
    report("aya default (BTF per load)", &separate);

    let pin = format!("/sys/fs/bpf/bpfhook-bench-{}", std::process::id());
    let mut bpftool = Vec::new();
    for _ in 0..n {
        let start = Instant::now();
        let status = Command::new("bpftool")
            .args(["prog", "load"])
            .arg(&object_path)
            .arg(&pin)
            .status()
            .expect("bpftool (apt-get install bpftool)");
        bpftool.push(start.elapsed());
        let _ = std::fs::remove_file(&pin);
        assert!(status.success(), "bpftool prog load failed");
    }
    report("bpftool prog load", &bpftool);
    println!(
        "ratio bpfhook later loads / bpftool: {:.2}",
        median(&shared[1..]).as_secs_f64() / median(&bpftool).as_secs_f64()
    );
}

fn median(samples: &[Duration]) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

fn report(name: &str, samples: &[Duration]) {
    println!(
        "{name:30} median {:8.2} ms",
        median(samples).as_secs_f64() * 1000.0
    );
}

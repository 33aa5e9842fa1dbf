//! Ring buffer drain cost per record: bpfhook's EventLoop against aya's `RingBuf` and libbpf's
//! `ring_buffer__consume` (a C program), each draining a full 16 MiB ring of 16-byte records
//! written by the same BPF object, in one run; then live throughput with a tracepoint producer.
//! Needs root. Run through `bench/ringbuf/run.sh`, which builds the object and the C reader:
//!
//! `cargo bench -p bpfhook --bench ringbuf -- OBJECT [LIBBPF_DRAIN] [ROUNDS]`

use std::hint::black_box;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aya::maps::{Array, RingBuf};
use aya::programs::Xdp;
use bpfhook::events::{Event, EventLoop, EventOptions};
use bpfhook::manager::ManagerBuilder;
use bpfhook::object::ObjectFile;

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let Some(object) = args.next().map(PathBuf::from) else {
        eprintln!("usage: ringbuf OBJECT [LIBBPF_DRAIN] [ROUNDS] (see bench/ringbuf/run.sh)");
        std::process::exit(2);
    };
    let libbpf = args.next().filter(|a| a != "-");
    let rounds: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(7);
    let bytes = std::fs::read(&object).expect("reading the object");

    let ours = drain_bpfhook(&bytes, rounds);
    let aya = drain_aya(&bytes, rounds);
    println!("full 16 MiB ring of 16-byte records, median of {rounds} drains:");
    println!("  bpfhook EventLoop          {ours:6.2} ns/record");
    println!(
        "  aya RingBuf                {aya:6.2} ns/record   (bpfhook/aya = {:.2})",
        ours / aya
    );
    if let Some(c) = &libbpf {
        let libbpf = drain_libbpf(c, &object, rounds);
        println!(
            "  libbpf ring_buffer__consume {libbpf:5.2} ns/record   (bpfhook/libbpf = {:.2})",
            ours / libbpf
        );
    }
    live_throughput(&object);
    if let Some(c) = &libbpf {
        libbpf_live(&object, c);
    }
}

/// Loads the object with `fill` ready for BPF_PROG_TEST_RUN (not attached anywhere).
fn load_filler(bytes: &[u8]) -> aya::Ebpf {
    let mut ebpf = aya::Ebpf::load(bytes).expect("loading the object");
    let fill: &mut Xdp = ebpf
        .program_mut("fill")
        .expect("program fill")
        .try_into()
        .expect("xdp");
    fill.load().expect("verifier");
    ebpf
}

/// Fills bench_ring to the brim; returns how many records went in.
fn fill(ebpf: &aya::Ebpf) -> u64 {
    let stats: Array<_, u64> =
        Array::try_from(ebpf.map("bench_stats").expect("stats")).expect("array");
    let before = stats.get(&0, 0).expect("stat");
    let fill: &Xdp = ebpf.program("fill").expect("fill").try_into().expect("xdp");
    let mut packet = [0u8; 64];
    packet[14..18].copy_from_slice(&(1u32 << 23).to_ne_bytes());
    bpfhook::sys::prog_test_run(fill.fd().expect("loaded").as_fd(), &packet).expect("test run");
    stats.get(&0, 0).expect("stat") - before
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn drain_bpfhook(bytes: &[u8], rounds: usize) -> f64 {
    let ebpf = load_filler(bytes);
    let options = EventOptions {
        printk: false,
        ..EventOptions::default()
    };
    let mut events = EventLoop::new(&options, ebpf.maps()).expect("event loop");
    let samples = (0..rounds)
        .map(|_| {
            let written = fill(&ebpf);
            let mut read = 0u64;
            let start = Instant::now();
            events
                .drain_all(|event| {
                    if let Event::Record { data, .. } = event {
                        black_box(data);
                        read += 1;
                    }
                })
                .expect("drain");
            let took = start.elapsed();
            assert_eq!(read, written, "bpfhook read every record");
            took.as_nanos() as f64 / read as f64
        })
        .collect();
    median(samples)
}

fn drain_aya(bytes: &[u8], rounds: usize) -> f64 {
    let mut ebpf = load_filler(bytes);
    let samples = (0..rounds)
        .map(|_| {
            let written = fill(&ebpf);
            let mut ring =
                RingBuf::try_from(ebpf.map_mut("bench_ring").expect("map")).expect("ring");
            let mut read = 0u64;
            let start = Instant::now();
            while let Some(item) = ring.next() {
                black_box(&*item);
                read += 1;
            }
            let took = start.elapsed();
            assert_eq!(read, written, "aya read every record");
            took.as_nanos() as f64 / read as f64
        })
        .collect();
    median(samples)
}

fn drain_libbpf(program: &str, object: &std::path::Path, rounds: usize) -> f64 {
    let output = Command::new(program)
        .arg(object)
        .arg(rounds.to_string())
        .output()
        .expect("running the libbpf reader");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .lines()
        .find_map(|l| l.split("median_ns_per_record=").nth(1))
        .and_then(|v| v.trim().parse().ok())
        .expect("a median line from the libbpf reader")
}

/// The same live run with libbpf's reader (`libbpf_drain OBJECT live`), printed as it reports.
fn libbpf_live(object: &std::path::Path, libbpf: &str) {
    let output = std::process::Command::new(libbpf)
        .arg(object)
        .arg("live")
        .output()
        .expect("running the libbpf reader");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("libbpf live"))
        .expect("a live line from libbpf");
    println!("{line}");
}

/// One thread calls getppid(2) as fast as it can for 2 s (one record each) while the EventLoop
/// reads: records read per second and reservations that failed.
fn live_throughput(object: &std::path::Path) {
    let object = ObjectFile::from_path(object).expect("object");
    let manager = ManagerBuilder::new(&object)
        .select(["live"])
        .attach()
        .expect("attach live");
    let options = EventOptions {
        printk: false,
        ..EventOptions::default()
    };
    let mut events = EventLoop::new(&options, manager.maps()).expect("event loop");
    let stop = Arc::new(AtomicBool::new(false));
    let producer = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                // SAFETY: getppid has no arguments and no memory effects.
                unsafe { libc::getppid() };
            }
        })
    };
    let mut read = 0u64;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(2) {
        events
            .poll(Duration::from_millis(100), |event| {
                if let Event::Record {
                    map: "live_ring",
                    data,
                    ..
                } = event
                {
                    black_box(data);
                    read += 1;
                }
            })
            .expect("poll");
    }
    stop.store(true, Ordering::Relaxed);
    producer.join().expect("producer");
    events
        .drain_all(|event| {
            if let Event::Record {
                map: "live_ring", ..
            } = event
            {
                read += 1;
            }
        })
        .expect("drain");
    let elapsed = start.elapsed().as_secs_f64();
    let stats: Array<_, u64> =
        Array::try_from(manager.map("bench_stats").expect("stats")).expect("array");
    let written = stats.get(&1, 0).expect("stat");
    let failed = stats.get(&2, 0).expect("stat");
    println!(
        "live (tracepoint sys_enter_getppid, 1 producer thread, 2 s): {:.2} M records/s read, \
         {read} read of {written} written, {failed} reservations failed",
        read as f64 / elapsed / 1e6
    );
}

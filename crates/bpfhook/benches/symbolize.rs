//! Symbolization costs on this machine: reading and indexing /proc/kallsyms, a kernel lookup,
//! and a user lookup in libc, first (maps read, libc parsed) and cached.
//!
//! `cargo bench -p bpfhook --bench symbolize` (root, for kernel addresses)

use std::hint::black_box;
use std::time::{Duration, Instant};

use bpfhook::kernel::kallsyms::Kallsyms;
use bpfhook::symbolize::{KernelSymbolizer, UserSymbolizer};

const ROUNDS: usize = 5;
const LOOKUPS: u32 = 1_000_000;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let value = f();
    (value, start.elapsed())
}

fn main() {
    let read = median(
        (0..ROUNDS)
            .map(|_| timed(|| Kallsyms::read().expect("reading /proc/kallsyms")).1)
            .collect(),
    );
    let index = median(
        (0..ROUNDS)
            .map(|_| {
                let kallsyms = Kallsyms::read().expect("reading /proc/kallsyms");
                timed(|| KernelSymbolizer::from_kallsyms(kallsyms).expect("indexing")).1
            })
            .collect(),
    );
    let check = median(
        (0..ROUNDS)
            .map(|_| timed(|| KernelSymbolizer::new().expect("kallsyms visible")).1)
            .collect(),
    );
    let kernel = KernelSymbolizer::new().expect("kallsyms visible");
    let base = Kallsyms::read()
        .expect("reading /proc/kallsyms")
        .symbols()
        .find(|s| s.name == "vfs_read")
        .map(|s| s.address)
        .expect("vfs_read");
    let (_, first) = timed(|| kernel.symbolize(base));
    let (_, lookups) = timed(|| {
        for i in 0..LOOKUPS {
            // Spread over ~16 MiB of text so the search does not always walk the same path.
            black_box(kernel.symbolize(base.wrapping_add(u64::from(i) * 16 % (16 << 20))));
        }
    });
    println!("kernel: {} symbols", kernel.len());
    println!("  new (visibility check){:8.2} ms", ms(check));
    println!(
        "  first lookup          {:8.2} ms (read and index)",
        ms(first)
    );
    println!("  read /proc/kallsyms   {:8.2} ms", ms(read));
    println!("  index                 {:8.2} ms", ms(index));
    println!(
        "  lookup                {:8.0} ns",
        lookups.as_nanos() as f64 / f64::from(LOOKUPS)
    );

    // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name only looks a symbol up.
    let getpid = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"getpid".as_ptr()) } as u64;
    let pid = std::process::id();
    let mut user = UserSymbolizer::new();
    let (first, cold) = timed(|| user.symbolize(pid, getpid));
    assert!(first.is_some(), "getpid symbolized");
    let (_, warm) = timed(|| {
        for i in 0..LOOKUPS {
            black_box(user.symbolize(pid, getpid + u64::from(i % 4096) * 16));
        }
    });
    println!("user (libc):");
    println!(
        "  first lookup          {:8.2} ms (maps read, libc parsed)",
        ms(cold)
    );
    println!(
        "  cached lookup         {:8.0} ns",
        warm.as_nanos() as f64 / f64::from(LOOKUPS)
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

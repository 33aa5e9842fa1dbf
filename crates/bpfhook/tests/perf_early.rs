//! Readers opened between `load` and `attach` see the very first records: a raw tracepoint on
//! this process's system calls writes to a perf event array from the first call after its link
//! exists. (Opening readers after attaching lost those: each opening is itself a system call.)
//! Its own test binary, so no other test's threads add records to this process's count.

use std::time::Duration;

use bpfhook::events::{Event, EventLoop, EventOptions};
use bpfhook::manager::ManagerBuilder;
use bpfhook::maps;
use bpfhook::object::ObjectFile;
use bpfhook_testkit::bpf_fixture;

#[test]
fn readers_opened_before_attaching_miss_no_record() {
    let object = ObjectFile::from_path(bpf_fixture("perf_early")).expect("fixture parses");
    let loaded = ManagerBuilder::new(&object).load().expect("load");
    let target = loaded
        .maps()
        .find(|(name, _)| *name == "early_target")
        .map(|(_, map)| maps::fd(map))
        .expect("early_target");
    bpfhook::sys::map_update(
        target,
        &0u32.to_ne_bytes(),
        &std::process::id().to_ne_bytes(),
        0,
    )
    .expect("tracing this process");
    let options = EventOptions {
        printk: false,
        ..EventOptions::default()
    };
    let mut events = EventLoop::new(&options, loaded.maps()).expect("readers");
    let manager = loaded.attach().expect("attach");
    for _ in 0..20 {
        // SAFETY: getppid has no preconditions.
        unsafe { libc::getppid() };
    }

    let mut seqs = Vec::new();
    let mut lost = 0;
    let mut sink = |event: Event<'_>| match event {
        Event::Record { data, .. } => {
            seqs.push(u64::from_ne_bytes(
                data[..8].try_into().expect("8-byte record"),
            ));
        }
        Event::Lost { count, .. } => lost += count,
        _ => {}
    };
    events
        .poll(Duration::from_millis(100), &mut sink)
        .expect("poll");
    events.drain_all(&mut sink).expect("drain");

    let stat = |slot: u32| {
        let map = manager.map("early_stats").expect("early_stats");
        let mut value = [0u8; 8];
        bpfhook::sys::map_lookup(maps::fd(map), &slot.to_ne_bytes(), &mut value).expect("lookup");
        u64::from_ne_bytes(value)
    };
    assert_eq!(
        stat(1),
        0,
        "perf outputs failed: a record came before its reader"
    );
    assert_eq!(lost, 0);
    assert!(seqs.len() >= 20, "only {} records", seqs.len());
    seqs.sort_unstable();
    let expected: Vec<u64> = (0..seqs.len() as u64).collect();
    assert_eq!(seqs, expected, "records missing from the start");
    assert!(stat(0) >= seqs.len() as u64);
}

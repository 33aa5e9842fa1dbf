//! Ring buffers and perf buffers on the real kernel, read through the EventLoop: exec events
//! (filtered by the pid of the child each test starts, so tests run in parallel) and floods that
//! overrun small buffers, where every record must be accounted for as read or lost.

use std::os::fd::AsFd;
use std::process::Command;
use std::time::{Duration, Instant};

use aya::maps::Array;
use aya::programs::Xdp;
use bpfhook::attach::AttachOptions;
use bpfhook::events::{ChannelKind, Event, EventLoop, EventOptions, SeqOffset};
use bpfhook::manager::{Manager, ManagerBuilder};
use bpfhook::object::ObjectFile;
use bpfhook_testkit::{bpf_fixture, program_loaded};

/// `struct event` of events_exec.bpf.c, by offsets.
const PID: usize = 0;
const FILENAME: std::ops::Range<usize> = 24..88;
const SEQ: usize = 88;

fn records_only() -> EventOptions {
    EventOptions {
        printk: false,
        ..EventOptions::default()
    }
}

fn attach(fixture: &str, program: &str) -> Manager {
    let object = ObjectFile::from_path(bpf_fixture(fixture)).expect("fixture parses");
    ManagerBuilder::new(&object)
        .options(AttachOptions::default())
        .select([program])
        .attach()
        .expect("attach")
}

fn u32_at(data: &[u8], offset: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(
        data.get(offset..offset + 4)?.try_into().ok()?,
    ))
}

fn c_string(bytes: &[u8]) -> &[u8] {
    bytes.split(|b| *b == 0).next().unwrap_or(bytes)
}

/// Execs a marker binary (a path no other test uses) and waits for its exec record.
fn exec_record_arrives(program: &str, map: &str, kind: ChannelKind) {
    let manager = attach("events_exec", program);
    let mut events = EventLoop::new(&records_only(), manager.maps()).expect("event loop");
    let found: Vec<_> = events.channels().map(|(name, _)| name.to_owned()).collect();
    assert!(found.iter().any(|n| n == map), "{map} not among {found:?}");

    // The marker: a copy of /bin/true under a unique name, so the filename is ours alone.
    let marker = bpfhook_testkit::TempPath::claim(
        std::env::temp_dir().join(bpfhook_testkit::unique_name("bpfhook-marker-")),
    );
    let marker = marker.path();
    std::fs::copy("/bin/true", marker).expect("copying /bin/true");
    let mut child = bpfhook_testkit::spawn_fresh_executable(&mut Command::new(marker));
    let pid = child.id();
    child.wait().expect("marker exits");

    let wanted = marker.as_os_str().as_encoded_bytes().to_vec();
    let mut seen = None;
    let deadline = Instant::now() + Duration::from_secs(5);
    while seen.is_none() && Instant::now() < deadline {
        events
            .poll(Duration::from_millis(100), |event| {
                if let Event::Record { map: m, data, .. } = event {
                    if m == map
                        && u32_at(data, PID) == Some(pid)
                        && data.get(FILENAME).map(c_string) == Some(&wanted[..])
                    {
                        seen = Some(data.get(SEQ..SEQ + 8).map(<[u8]>::to_vec));
                    }
                }
            })
            .expect("poll");
    }
    assert!(
        seen.is_some(),
        "no {map} record for pid {pid} ({})",
        marker.display()
    );
    let stats = events.stats();
    let channel = stats
        .iter()
        .find(|s| s.map == map)
        .expect("stats for the map");
    assert_eq!(channel.kind, kind);
    assert!(channel.records >= 1);
    drop(events);
    drop(manager);
    assert!(!program_loaded(program), "{program} still loaded");
}

#[test]
fn exec_record_through_a_ring_buffer() {
    exec_record_arrives("exec_ringbuf", "exec_ring", ChannelKind::RingBuf);
}

#[test]
fn exec_record_through_a_perf_event_array() {
    exec_record_arrives("exec_perfbuf", "exec_perf", ChannelKind::PerfEventArray);
}

#[test]
fn no_events_opens_no_readers() {
    let manager = attach("events_exec", "exec_ringbuf");
    let options = EventOptions {
        records: false,
        ..records_only()
    };
    let events = EventLoop::new(&options, manager.maps()).expect("event loop");
    assert_eq!(events.channels().count(), 0);
}

/// The flood programs, loaded but not attached: BPF_PROG_TEST_RUN drives them.
struct Flood {
    ebpf: aya::Ebpf,
}

impl Flood {
    fn load(program: &str) -> Self {
        let bytes = std::fs::read(bpf_fixture("events_flood")).expect("fixture");
        let mut ebpf = aya::Ebpf::load(&bytes).expect("load the flood object");
        let xdp: &mut Xdp = ebpf
            .program_mut(program)
            .expect("program")
            .try_into()
            .expect("xdp");
        xdp.load().expect("verifier");
        Self { ebpf }
    }

    /// Runs `program` once: it writes `burst` records.
    fn run(&self, program: &str, burst: u16) {
        let xdp: &Xdp = self
            .ebpf
            .program(program)
            .expect("program")
            .try_into()
            .expect("xdp");
        let mut packet = [0u8; 64];
        packet[14..16].copy_from_slice(&burst.to_ne_bytes());
        bpfhook::sys::prog_test_run(xdp.fd().expect("loaded").as_fd(), &packet)
            .expect("BPF_PROG_TEST_RUN");
    }

    fn stat(&self, index: u32) -> u64 {
        let stats: Array<_, u64> =
            Array::try_from(self.ebpf.map("flood_stats").expect("stats map")).expect("u64 array");
        stats.get(&index, 0).expect("stat")
    }
}

/// Keeps this thread on one CPU: a perf buffer reports a loss on the CPU it happened on, when
/// that CPU next writes a record, so the final flush must run where the losses were.
fn pin_to_current_cpu() {
    // SAFETY: sched_getcpu has no memory effects; the cpu_set_t is zeroed and filled by CPU_SET.
    unsafe {
        let cpu = libc::sched_getcpu();
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(usize::try_from(cpu).unwrap_or(0), &mut set);
        assert_eq!(
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set),
            0
        );
    }
}

/// Floods `map` through `program`, reading now and then; returns (records read, lost reported).
fn flood(program: &str, map: &str, perf_pages: usize) -> (Flood, u64, u64, Option<u64>) {
    pin_to_current_cpu();
    let flood = Flood::load(program);
    let options = EventOptions {
        perf_pages,
        seq_offset: Some(SeqOffset(0)),
        ..records_only()
    };
    let mut events = EventLoop::new(&options, flood.ebpf.maps()).expect("event loop");
    let (mut read, mut lost) = (0u64, 0u64);
    let mut count = |event: Event<'_>| match event {
        Event::Record { map: m, .. } if m == map => read += 1,
        Event::Lost { map: m, count, .. } if m == map => lost += count,
        _ => {}
    };
    for round in 0..200 {
        flood.run(program, 1000);
        if round % 10 == 0 {
            events.poll(Duration::ZERO, &mut count).expect("poll");
        }
    }
    events.drain_all(&mut count).expect("drain");
    // One record into the emptied buffer: it succeeds, and behind it the kernel writes the
    // perf buffer's last loss report and the ring buffer's highest sequence number.
    flood.run(program, 1);
    events.drain_all(&mut count).expect("drain");
    let stats = events.stats();
    let channel = stats.iter().find(|s| s.map == map).expect("stats");
    assert_eq!(channel.records, read, "stats agree with the sink");
    assert_eq!(channel.lost, lost, "stats agree with the sink");
    let missing = channel.seq_missing;
    (flood, read, lost, missing)
}

#[test]
fn ring_buffer_flood_every_record_read_or_counted_failed_by_the_producer() {
    let (flood, read, lost, missing) = flood("flood_ringbuf", "flood_ring", 64);
    let (produced, failed) = (flood.stat(0), flood.stat(1));
    assert_eq!(produced, 200 * 1000 + 1);
    assert!(failed > 0, "the flood never overran the ring");
    assert_eq!(lost, 0, "ring buffers report no losses to the reader");
    assert_eq!(read + failed, produced);
    assert_eq!(
        missing,
        Some(failed),
        "sequence gaps are the failed reservations"
    );
}

#[test]
fn perf_buffer_flood_every_record_read_or_reported_lost() {
    let (flood, read, lost, _) = flood("flood_perfbuf", "flood_perf", 1);
    let (produced, failed) = (flood.stat(2), flood.stat(3));
    assert_eq!(produced, 200 * 1000 + 1);
    assert!(lost > 0, "the flood never overran the perf buffer");
    assert_eq!(read + lost, produced);
    assert_eq!(
        lost, failed,
        "the kernel's loss reports match the program's failures"
    );
}

#[test]
fn both_channels_share_one_loop() {
    // The exec object has both kinds: one loop, one ring per CPU for the perf array.
    let manager = attach("events_exec", "exec_ringbuf");
    let events = EventLoop::new(&EventOptions::default(), manager.maps()).expect("loop");
    let channels: Vec<_> = events.channels().collect();
    let cpus = aya::util::online_cpus().expect("cpus").len();
    assert_eq!(channels, vec![("exec_perf", cpus), ("exec_ring", 1)]);
}

//! The loader on the real kernel, for what the hook tests do not reach: global data, maps of
//! maps, maps pinned by name, and the map sizes the loader must fix. The `loader` fixture's
//! program runs on getppid(2) and writes what it saw under this process's tgid.

use std::os::fd::AsRawFd;

use aya::maps::{HashMap, Map};
use bpfhook::manager::{Manager, ManagerBuilder};
use bpfhook::maps;
use bpfhook::object::ObjectFile;
use bpfhook_testkit::{bpf_fixture, program_loaded, TempPath};

const PIN: &str = "/sys/fs/bpf/bpfhook_loader_pinned";

fn attach() -> Manager {
    let object = ObjectFile::from_path(bpf_fixture("loader")).expect("fixture parses");
    ManagerBuilder::new(&object).attach().expect("attach")
}

fn map<'m>(manager: &'m Manager, name: &str) -> &'m Map {
    manager
        .map(name)
        .unwrap_or_else(|| panic!("map {name} exists"))
}

fn u64_at(manager: &Manager, map_name: &str, key: u32) -> Option<u64> {
    let mut value = [0u8; 8];
    bpfhook::sys::map_lookup(
        maps::fd(map(manager, map_name)),
        &key.to_ne_bytes(),
        &mut value,
    )
    .expect("lookup")
    .then(|| u64::from_ne_bytes(value))
}

fn max_entries(manager: &Manager, map_name: &str) -> u32 {
    bpfhook::sys::map_info(maps::fd(map(manager, map_name)))
        .expect("map info")
        .max_entries
}

#[test]
fn global_data_maps_of_maps_pins_and_sizes_work_on_the_kernel() {
    // Removes the pin even if an assertion below fails.
    let _pin = TempPath::claim(PIN);
    let manager = attach();
    let tgid = std::process::id();

    // The slot of the map of maps is filled from user space, as a program's user would.
    let inner = maps::fd(map(&manager, "loader_inner")).as_raw_fd() as u32;
    bpfhook::sys::map_update(
        maps::fd(map(&manager, "loader_outer")),
        &0u32.to_ne_bytes(),
        &inner.to_ne_bytes(),
        0,
    )
    .expect("inner map into the outer map");

    for _ in 0..3 {
        // SAFETY: getppid has no preconditions.
        unsafe { libc::getppid() };
    }

    // .rodata and .data were written before the program loaded.
    let counts: HashMap<_, u32, u64> =
        HashMap::try_from(map(&manager, "counts")).expect("u32 → u64 hash");
    assert_eq!(counts.get(&tgid, 0).ok(), Some(0xfeed_0000 + 42));
    // .bss is one u64 the program bumped (other processes may call getppid too).
    assert!(u64_at(&manager, ".bss", 0).is_some_and(|hits| hits >= 3));
    // The map of maps led the program to the inner map.
    assert!(u64_at(&manager, "loader_inner", 0).is_some_and(|n| n >= 3));
    assert!(u64_at(&manager, "bpfhook_loader_pinned", tgid).is_some_and(|n| n >= 3));

    // .rodata is frozen: user space cannot change what the verifier trusted.
    let rodata = maps::fd(map(&manager, ".rodata"));
    let frozen = bpfhook::sys::map_update(rodata, &0u32.to_ne_bytes(), &[0u8; 8], 0)
        .expect_err(".rodata accepted a write");
    assert_eq!(frozen.error.raw_os_error(), Some(libc::EPERM), "{frozen}");

    // Sizes: a ring buffer is a power-of-two number of pages; a perf array has a slot per CPU.
    assert_eq!(max_entries(&manager, "loader_ring"), 8192);
    let cpus = aya::util::nr_cpus().expect("possible CPUs") as u32;
    assert_eq!(max_entries(&manager, "loader_perf"), cpus);

    // A second load finds the pin and shares the map.
    assert!(std::path::Path::new(PIN).exists(), "{PIN} was not pinned");
    let second = attach();
    let id = |m: &Manager| maps::id(map(m, "bpfhook_loader_pinned"));
    assert_eq!(id(&manager), id(&second));
    assert_ne!(
        maps::id(map(&manager, "counts")),
        maps::id(map(&second, "counts"))
    );

    drop(second);
    drop(manager);
    assert!(
        !program_loaded("loader_probe"),
        "loader_probe stayed loaded"
    );
}

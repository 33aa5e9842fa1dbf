//! `%gr`: page allocation flags (`gfp_t`) by name, as the kernel's own tracepoints print them
//! (`show_gfp_flags`): the kernel's composite names first (`GFP_KERNEL`), then single flags,
//! then what is left in hex, joined by `|`. The bit of each `__GFP_X` comes from the running
//! kernel's BTF (`___GFP_X_BIT` of its anonymous enum), since the numbering changes between
//! kernel versions; the composites are the kernel's definitions in terms of those flags.

use std::collections::HashMap;
use std::sync::OnceLock;

use bpfhook::btf::{Btf, TypeKind};

/// Names in the order the kernel prints them (`__def_gfpflag_names`), each with the flags it
/// is made of, without the `__GFP_` prefix (`!` before a flag: taken out again).
const NAMES: &[(&str, &[&str])] = &[
    ("GFP_TRANSHUGE", &["@GFP_TRANSHUGE_LIGHT", "DIRECT_RECLAIM"]),
    (
        "GFP_TRANSHUGE_LIGHT",
        &[
            "@GFP_HIGHUSER_MOVABLE",
            "COMP",
            "NOMEMALLOC",
            "NOWARN",
            "!DIRECT_RECLAIM",
            "!KSWAPD_RECLAIM",
        ],
    ),
    (
        "GFP_HIGHUSER_MOVABLE",
        &["@GFP_HIGHUSER", "MOVABLE", "SKIP_KASAN"],
    ),
    ("GFP_HIGHUSER", &["@GFP_USER", "HIGHMEM"]),
    (
        "GFP_USER",
        &["DIRECT_RECLAIM", "KSWAPD_RECLAIM", "IO", "FS", "HARDWALL"],
    ),
    ("GFP_KERNEL_ACCOUNT", &["@GFP_KERNEL", "ACCOUNT"]),
    (
        "GFP_KERNEL",
        &["DIRECT_RECLAIM", "KSWAPD_RECLAIM", "IO", "FS"],
    ),
    ("GFP_NOFS", &["DIRECT_RECLAIM", "KSWAPD_RECLAIM", "IO"]),
    ("GFP_ATOMIC", &["HIGH", "KSWAPD_RECLAIM"]),
    ("GFP_NOIO", &["DIRECT_RECLAIM", "KSWAPD_RECLAIM"]),
    ("GFP_NOWAIT", &["KSWAPD_RECLAIM", "NOWARN"]),
    ("GFP_DMA", &["DMA"]),
    ("__GFP_HIGHMEM", &["HIGHMEM"]),
    ("GFP_DMA32", &["DMA32"]),
    ("__GFP_HIGH", &["HIGH"]),
    ("__GFP_IO", &["IO"]),
    ("__GFP_FS", &["FS"]),
    ("__GFP_NOWARN", &["NOWARN"]),
    ("__GFP_RETRY_MAYFAIL", &["RETRY_MAYFAIL"]),
    ("__GFP_NOFAIL", &["NOFAIL"]),
    ("__GFP_NORETRY", &["NORETRY"]),
    ("__GFP_COMP", &["COMP"]),
    ("__GFP_ZERO", &["ZERO"]),
    ("__GFP_NOMEMALLOC", &["NOMEMALLOC"]),
    ("__GFP_MEMALLOC", &["MEMALLOC"]),
    ("__GFP_HARDWALL", &["HARDWALL"]),
    ("__GFP_THISNODE", &["THISNODE"]),
    ("__GFP_RECLAIMABLE", &["RECLAIMABLE"]),
    ("__GFP_MOVABLE", &["MOVABLE"]),
    ("__GFP_ACCOUNT", &["ACCOUNT"]),
    ("__GFP_WRITE", &["WRITE"]),
    ("__GFP_RECLAIM", &["DIRECT_RECLAIM", "KSWAPD_RECLAIM"]),
    ("__GFP_DIRECT_RECLAIM", &["DIRECT_RECLAIM"]),
    ("__GFP_KSWAPD_RECLAIM", &["KSWAPD_RECLAIM"]),
    ("__GFP_ZEROTAGS", &["ZEROTAGS"]),
];

/// `flags` by name; `None` when the kernel's BTF has no GFP bits to name them with.
pub fn names(flags: u64) -> Option<String> {
    static TABLE: OnceLock<Option<Vec<(&'static str, u64)>>> = OnceLock::new();
    let table = TABLE
        .get_or_init(|| kernel_bits().map(|bits| masks(&bits)))
        .as_ref()?;
    Some(format_flags(flags, table))
}

/// `___GFP_X_BIT` enumerators of the kernel's BTF: X → bit.
fn kernel_bits() -> Option<HashMap<String, u32>> {
    let btf = Btf::from_file("/sys/kernel/btf/vmlinux").ok()?;
    let mut bits = HashMap::new();
    for id in btf.own_ids() {
        let Some(TypeKind::Enum(e)) = btf.type_by_id(id).map(|t| &t.kind) else {
            continue;
        };
        for value in e.values.iter() {
            let name = btf.name(value.name_off);
            if let Some(flag) = name
                .strip_prefix("___GFP_")
                .and_then(|n| n.strip_suffix("_BIT"))
            {
                bits.insert(flag.to_owned(), value.value as u32);
            }
        }
    }
    (!bits.is_empty()).then_some(bits)
}

/// Each name's mask from the flag bits (a flag this kernel lacks, such as SKIP_KASAN without
/// KASAN, counts as 0); names whose mask is 0 are left out.
fn masks(bits: &HashMap<String, u32>) -> Vec<(&'static str, u64)> {
    let mut done: Vec<(&'static str, u64)> = Vec::new();
    for &(name, _) in NAMES.iter().rev() {
        let mask = mask_of(name, bits, &done);
        done.push((name, mask));
    }
    NAMES
        .iter()
        .filter_map(|&(name, _)| done.iter().find(|(n, _)| *n == name).copied())
        .filter(|&(_, mask)| mask != 0)
        .collect()
}

fn mask_of(name: &str, bits: &HashMap<String, u32>, done: &[(&str, u64)]) -> u64 {
    let parts = NAMES
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(&[][..], |(_, p)| *p);
    let bit = |flag: &str| bits.get(flag).map_or(0, |&b| 1u64 << b);
    let (mut set, mut cleared) = (0u64, 0u64);
    for part in parts {
        if let Some(composite) = part.strip_prefix('@') {
            set |= done
                .iter()
                .find(|(n, _)| *n == composite)
                .map_or(0, |&(_, m)| m);
        } else if let Some(flag) = part.strip_prefix('!') {
            cleared |= bit(flag);
        } else {
            set |= bit(part);
        }
    }
    set & !cleared
}

/// As the kernel's `__print_flags`: each name whose bits are all set, its bits then taken out.
fn format_flags(flags: u64, table: &[(&str, u64)]) -> String {
    if flags == 0 {
        return "none".to_owned();
    }
    let mut left = flags;
    let mut out: Vec<String> = Vec::new();
    for &(name, mask) in table {
        if left & mask == mask && left & mask != 0 {
            out.push(name.to_owned());
            left &= !mask;
        }
    }
    if left != 0 {
        out.push(format!("{left:#x}"));
    }
    out.join("|")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bits of Linux 6.18 (without KASAN).
    fn bits() -> HashMap<String, u32> {
        [
            "DMA",
            "HIGHMEM",
            "DMA32",
            "MOVABLE",
            "RECLAIMABLE",
            "HIGH",
            "IO",
            "FS",
            "ZERO",
            "UNUSED",
            "DIRECT_RECLAIM",
            "KSWAPD_RECLAIM",
            "WRITE",
            "NOWARN",
            "RETRY_MAYFAIL",
            "NOFAIL",
            "NORETRY",
            "MEMALLOC",
            "COMP",
            "NOMEMALLOC",
            "HARDWALL",
            "THISNODE",
            "ACCOUNT",
            "ZEROTAGS",
        ]
        .iter()
        .enumerate()
        .map(|(i, n)| (n.to_string(), i as u32))
        .collect()
    }

    #[test]
    fn composites_first_then_flags_then_hex() {
        let table = masks(&bits());
        assert_eq!(format_flags(0x1, &table), "GFP_DMA");
        // GFP_KERNEL = DIRECT_RECLAIM | KSWAPD_RECLAIM | IO | FS = 0xcc0.
        assert_eq!(format_flags(0xcc0, &table), "GFP_KERNEL");
        assert_eq!(format_flags(0xcc0 | 0x100, &table), "GFP_KERNEL|__GFP_ZERO");
        assert_eq!(format_flags(0x400000 | 0xcc0, &table), "GFP_KERNEL_ACCOUNT");
        // GFP_ATOMIC = HIGH | KSWAPD_RECLAIM.
        assert_eq!(format_flags(0x820, &table), "GFP_ATOMIC");
        assert_eq!(format_flags(1 << 40, &table), "0x10000000000");
        assert_eq!(format_flags(0, &table), "none");
    }

    #[test]
    fn the_running_kernel_names_its_dma_flag() {
        // Linux has numbered ___GFP_DMA_BIT 0 in every version with the enum.
        assert_eq!(names(1).as_deref(), Some("GFP_DMA"));
    }
}

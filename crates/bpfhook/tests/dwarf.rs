//! Record types read from an object's DWARF when its BTF lacks them: the dwarf_event fixture's
//! `struct event` (used only through a reserved pointer) decoded from bytes, and damaged copies of
//! the object read without a panic.

use bpfhook::btf::{Btf, BtfKind};
use bpfhook::decode::{Record, RecordDecoder, TypeSource, Value};
use bpfhook_testkit::bpf_fixture;

fn object() -> Vec<u8> {
    std::fs::read(bpf_fixture("dwarf_event")).expect("reading the fixture")
}

/// The fixture's record as the program writes it (see dwarf_event.h for the layout).
fn record_bytes() -> Vec<u8> {
    let mut bytes = vec![0u8; 136];
    bytes[0..4].copy_from_slice(&42u32.to_le_bytes()); // pid
    bytes[4..8].copy_from_slice(&1u32.to_le_bytes()); // kind = DWARF_EVENT_EXEC
    bytes[8..10].copy_from_slice(b"sh"); // comm
    bytes[24..28].copy_from_slice(b"/bin"); // filename
    bytes[88..90].copy_from_slice(&(5u16 | 17 << 3).to_le_bytes()); // flags:3, level:5
    bytes[90..92].copy_from_slice(&(-2i16).to_le_bytes()); // delta
    bytes[96..104].copy_from_slice(&7u64.to_le_bytes()); // seq
    for (i, cell) in bytes[104..116].chunks_mut(2).enumerate() {
        cell.copy_from_slice(&(i as u16).to_le_bytes()); // grid[2][3]
    }
    bytes[116..120].copy_from_slice(&0x0102_0304u32.to_le_bytes()); // the union
    bytes[120] = 0xff; // pair.lo = -1
    bytes[121] = 200; // pair.hi
    bytes
}

#[test]
fn the_fixture_really_lacks_the_type_in_btf() {
    let btf = Btf::from_elf(&object()).expect("the fixture has BTF");
    assert_eq!(btf.find_by_name(BtfKind::Struct, "event"), None);
}

#[test]
fn the_record_type_comes_from_dwarf_and_decodes_every_shape() {
    let decoder = RecordDecoder::new(&object(), None).expect("a decoder");
    let record = decoder.record_type().expect("typed");
    assert_eq!(
        (record.kind(), record.name(), record.size(), record.source()),
        ("struct", "event", 136, TypeSource::Dwarf)
    );
    assert_eq!(decoder.seq_offset(), Some(96));
    let Record::Typed(value) = decoder.decode(&record_bytes()) else {
        panic!("not typed");
    };
    assert_eq!(
        value.to_string(),
        "{pid=42 kind=DWARF_EVENT_EXEC comm=\"sh\" filename=\"/bin\" flags=5 level=17 delta=-2 \
         seq=7 grid=[[0 1 2] [3 4 5]] {word=16909060 halves=[772 258]} pair={lo=-1 hi=200} \
         text=0x0}"
    );
    let Value::Struct(members) = value else {
        panic!("not a struct");
    };
    assert_eq!(members[9].0, "", "the anonymous union keeps an empty name");
}

/// Byte ranges of the object's `.debug_*` sections in the file.
fn dwarf_ranges(object: &[u8]) -> Vec<std::ops::Range<usize>> {
    use object::{Object, ObjectSection};
    let file = object::File::parse(object).expect("ELF");
    file.sections()
        .filter(|s| s.name().is_ok_and(|n| n.starts_with(".debug_")))
        .filter_map(|s| s.file_range())
        .map(|(start, len)| start as usize..(start + len) as usize)
        .filter(|r| !r.is_empty())
        .collect()
}

#[test]
fn damaged_dwarf_gives_an_error_or_hex_never_a_panic() {
    let object = object();
    let ranges = dwarf_ranges(&object);
    assert!(ranges.len() >= 3, "{ranges:?}");
    let bytes = record_bytes();
    // Deterministic damage inside the DWARF sections: each copy gives an error naming the DWARF,
    // or a decoder that decodes (typed or not) without panicking.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut errors = 0;
    for _ in 0..500 {
        let mut copy = object.clone();
        for _ in 0..4 {
            let range = &ranges[next() as usize % ranges.len()];
            let at = range.start + next() as usize % range.len();
            copy[at] = next() as u8;
        }
        match RecordDecoder::new(&copy, None) {
            Ok(decoder) => {
                decoder.decode(&bytes);
            }
            Err(e) => {
                assert!(e.to_string().contains("DWARF"), "{e}");
                errors += 1;
            }
        }
    }
    assert!(errors > 0, "no damage was noticed");
}

#[test]
fn a_record_type_without_a_name_is_found_by_the_reserved_size() {
    let object = std::fs::read(bpf_fixture("dwarf_sized")).expect("reading the fixture");
    let decoder = RecordDecoder::new(&object, None).expect("a decoder");
    let record = decoder.record_type().expect("typed by size");
    assert_eq!(
        (
            record.name(),
            record.size(),
            record.source(),
            record.by_size()
        ),
        ("exec_note", 24, TypeSource::Dwarf, true)
    );
    let mut bytes = vec![0u8; 24];
    bytes[0] = 9;
    bytes[4..8].copy_from_slice(&0xfeedu32.to_le_bytes());
    bytes[8..10].copy_from_slice(b"sh");
    assert_eq!(
        decoder.decode(&bytes),
        Record::Typed(Value::Struct(vec![
            ("pid".into(), Value::Unsigned(9)),
            ("marker".into(), Value::Unsigned(0xfeed)),
            ("comm".into(), Value::Str("sh".into())),
        ]))
    );
}

#[test]
fn a_record_type_by_name_is_not_matched_by_size() {
    let decoder = RecordDecoder::new(&object(), None).expect("a decoder");
    assert!(decoder.record_type().is_some_and(|r| !r.by_size()));
}

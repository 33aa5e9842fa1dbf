//! Seeded mutants of an ELF object for the malformed-input tests: byte flips, random runs,
//! truncation, duplicated ranges, and perturbed header fields (ELF section headers, `.BTF` and
//! `.BTF.ext` headers), where parsers trust lengths and offsets.

/// The seed CI uses; `BPFHOOK_MUTATION_SEED` picks another.
pub fn mutation_seed() -> u64 {
    std::env::var("BPFHOOK_MUTATION_SEED")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0x5eed_b9f0)
}

/// xorshift64*: deterministic, seedable, good enough to spread mutations.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        // Zero is xorshift's one fixed point.
        Self(seed | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A value in `0..bound` (`bound` > 0).
    pub fn below(&mut self, bound: usize) -> usize {
        (self.next_u64() % bound as u64) as usize
    }
}

/// A stable hash of a name (FNV-1a), to give each fixture its own stream from one seed.
pub fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// Where a mutant's header fields live in the original: (offset, width in bytes).
pub struct Mutator<'a> {
    original: &'a [u8],
    fields: Vec<(usize, usize)>,
}

impl<'a> Mutator<'a> {
    pub fn new(original: &'a [u8]) -> Self {
        Self {
            original,
            fields: header_fields(original),
        }
    }

    /// One mutant: one to three mutations of the original.
    pub fn mutate(&self, rng: &mut Rng) -> Vec<u8> {
        let mut bytes = self.original.to_vec();
        for _ in 0..=rng.below(3) {
            if bytes.is_empty() {
                break;
            }
            match rng.below(6) {
                0 => flip_bytes(&mut bytes, rng),
                1 => random_run(&mut bytes, rng),
                2 => bytes.truncate(rng.below(bytes.len())),
                3 => duplicate_range(&mut bytes, rng),
                _ => self.perturb_field(&mut bytes, rng),
            }
        }
        bytes
    }

    fn perturb_field(&self, bytes: &mut [u8], rng: &mut Rng) {
        if self.fields.is_empty() {
            return flip_bytes(bytes, rng);
        }
        let (offset, width) = self.fields[rng.below(self.fields.len())];
        let Some(field) = bytes.get_mut(offset..offset + width) else {
            return;
        };
        let mut current = [0u8; 8];
        current[..width].copy_from_slice(field);
        let current = u64::from_le_bytes(current);
        let value = match rng.below(6) {
            0 => 0,
            1 => u64::MAX,
            2 => current.wrapping_add(1 + rng.below(16) as u64),
            3 => current.wrapping_sub(1 + rng.below(16) as u64),
            4 => 1 << rng.below(width * 8),
            _ => rng.next_u64(),
        };
        field.copy_from_slice(&value.to_le_bytes()[..width]);
    }
}

/// 1–32 bytes XORed with random non-zero values.
fn flip_bytes(bytes: &mut [u8], rng: &mut Rng) {
    for _ in 0..=rng.below(32) {
        let at = rng.below(bytes.len());
        bytes[at] ^= (rng.below(255) + 1) as u8;
    }
}

/// Up to 64 consecutive bytes replaced by random ones.
fn random_run(bytes: &mut [u8], rng: &mut Rng) {
    let start = rng.below(bytes.len());
    let end = (start + 1 + rng.below(64)).min(bytes.len());
    for byte in &mut bytes[start..end] {
        *byte = rng.next_u64() as u8;
    }
}

/// A range copied over another place of the file.
fn duplicate_range(bytes: &mut [u8], rng: &mut Rng) {
    let len = 1 + rng.below(256.min(bytes.len()));
    let from = rng.below(bytes.len() - len + 1);
    let to = rng.below(bytes.len() - len + 1);
    bytes.copy_within(from..from + len, to);
}

/// The header fields of a little-endian ELF64 file: the ELF header's table fields, every section
/// header's fields, and the `.BTF` / `.BTF.ext` header words. Empty for anything else.
fn header_fields(b: &[u8]) -> Vec<(usize, usize)> {
    let read = |off: usize, width: usize| -> Option<usize> {
        let mut v = [0u8; 8];
        v[..width].copy_from_slice(b.get(off..off + width)?);
        usize::try_from(u64::from_le_bytes(v)).ok()
    };
    let mut fields = vec![(0x28, 8), (0x3a, 2), (0x3c, 2), (0x3e, 2)];
    let (Some(shoff), Some(shnum), Some(shstrndx)) = (read(0x28, 8), read(0x3c, 2), read(0x3e, 2))
    else {
        return fields;
    };
    let header = |index: usize| shoff + index * 64;
    let names = read(header(shstrndx) + 24, 8);
    for index in 0..shnum {
        let h = header(index);
        // sh_name, sh_type, sh_flags, sh_offset, sh_size, sh_link, sh_info, sh_entsize.
        fields.extend([(h, 4), (h + 4, 4), (h + 8, 8), (h + 24, 8), (h + 32, 8)]);
        fields.extend([(h + 40, 4), (h + 44, 4), (h + 56, 8)]);
        let name = names
            .zip(read(h, 4))
            .and_then(|(table, name)| b.get(table + name..))
            .map(|rest| rest.split(|&c| c == 0).next().unwrap_or_default());
        let Some(data) = read(h + 24, 8) else {
            continue;
        };
        match name {
            // hdr_len, type_off, type_len, str_off, str_len.
            Some(b".BTF") => fields.extend((4..24).step_by(4).map(|f| (data + f, 4))),
            // hdr_len, then offset and length of func_info, line_info and CO-RE relocations,
            // and the first record size of each.
            Some(b".BTF.ext") => {
                fields.extend((4..32).step_by(4).map(|f| (data + f, 4)));
                let hdr_len = read(data + 4, 4).unwrap_or(0);
                for sub in [8, 16, 24] {
                    if let Some(off) = read(data + sub, 4) {
                        fields.push((data + hdr_len + off, 4));
                        fields.push((data + hdr_len + off + 8, 4));
                    }
                }
            }
            _ => {}
        }
    }
    fields.retain(|&(off, width)| off + width <= b.len());
    fields
}

/// The text of a caught panic's payload.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(non-text payload)".to_owned())
}

//! A program builder: push instructions as plain values, name jump targets
//! with labels, and let [`Builder::finish`] resolve them once the whole
//! program is known (forward jumps need the distance before it exists).

use std::collections::HashMap;

use super::insn::*;
use super::{AsmError, Helper};

/// What an instruction refers to by name, to be fixed up by the ELF writer or
/// the loader.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RelocationTarget {
    /// `ld_imm64` that must become the fd of this map.
    Map(String),
    /// `ld_imm64` that must become the address of this read-only datum (plus
    /// the offset held in the instruction's immediate).
    Data(String),
    /// `call` of a bpf-to-bpf function defined outside this program (in `.text`).
    Function(String),
    /// `ld_imm64` that must become the address of this `.text` function (a callback handed
    /// to a helper such as `bpf_for_each_map_elem`).
    FunctionAddress(String),
}

impl RelocationTarget {
    pub fn name(&self) -> &str {
        match self {
            RelocationTarget::Map(name)
            | RelocationTarget::Data(name)
            | RelocationTarget::Function(name)
            | RelocationTarget::FunctionAddress(name) => name,
        }
    }
}

/// A symbolic reference from the instruction at `insn_index` (an index into
/// [`Program::insns`], not a slot number).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Relocation {
    pub insn_index: usize,
    pub target: RelocationTarget,
}

/// A finished program: instructions with every label resolved, plus the
/// references that only a linker or loader can resolve.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Program {
    pub insns: Vec<Insn>,
    pub relocations: Vec<Relocation>,
}

impl Program {
    /// A program without symbolic references.
    pub fn from_insns(insns: Vec<Insn>) -> Program {
        Program {
            insns,
            relocations: Vec::new(),
        }
    }

    /// The instruction bytes, as the kernel and ELF sections hold them.
    pub fn encode(&self) -> Vec<u8> {
        encode_program(&self.insns)
    }

    /// Byte offset of instruction `insn_index` (ld_imm64 takes two slots).
    pub fn byte_offset(&self, insn_index: usize) -> usize {
        self.insns.iter().take(insn_index).map(Insn::size).sum()
    }

    /// The byte offset of every instruction (and, last, of the end): one pass, where calling
    /// [`Program::byte_offset`] per instruction would be quadratic.
    pub fn byte_offsets(&self) -> Vec<usize> {
        let mut offsets = Vec::with_capacity(self.insns.len() + 1);
        let mut offset = 0;
        for insn in &self.insns {
            offsets.push(offset);
            offset += insn.size();
        }
        offsets.push(offset);
        offsets
    }

    /// Length of the encoded program in bytes.
    pub fn byte_len(&self) -> usize {
        self.byte_offset(self.insns.len())
    }

    /// The relocation attached to instruction `insn_index`, if any.
    pub fn relocation_at(&self, insn_index: usize) -> Option<&RelocationTarget> {
        self.relocations
            .iter()
            .find(|relocation| relocation.insn_index == insn_index)
            .map(|relocation| &relocation.target)
    }
}

/// An instruction whose final form waits for label resolution.
#[derive(Debug, Clone)]
enum Pending {
    Ready(Insn),
    /// A `goto`, `gotol` or conditional jump; its offset is patched in.
    Jump {
        insn: Insn,
        label: String,
    },
    /// A bpf-to-bpf call: pc-relative if the label is local, else a relocation.
    CallLocal {
        label: String,
    },
}

/// Builds one program. Methods chain; the first error (unknown helper name,
/// duplicate label) is kept and reported by [`Builder::finish`].
#[derive(Debug, Default)]
pub struct Builder {
    items: Vec<Pending>,
    labels: HashMap<String, usize>,
    relocations: Vec<Relocation>,
    first_error: Option<AsmError>,
}

impl Builder {
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Appends a ready instruction.
    pub fn insn(&mut self, insn: Insn) -> &mut Self {
        self.items.push(Pending::Ready(insn));
        self
    }

    /// Places `name` at the next instruction.
    pub fn label(&mut self, name: &str) -> &mut Self {
        if self
            .labels
            .insert(name.to_owned(), self.items.len())
            .is_some()
        {
            self.record_error(AsmError::DuplicateLabel(name.to_owned()));
        }
        self
    }

    /// Whether `name` has been placed as a label so far.
    pub fn has_label(&self, name: &str) -> bool {
        self.labels.contains_key(name)
    }

    // Arithmetic.

    pub fn alu64_imm(&mut self, op: AluOp, dst: Reg, imm: i32) -> &mut Self {
        self.alu(Width::W64, op, dst, Source::Imm(imm))
    }

    pub fn alu64_reg(&mut self, op: AluOp, dst: Reg, src: Reg) -> &mut Self {
        self.alu(Width::W64, op, dst, Source::Reg(src))
    }

    pub fn alu32_imm(&mut self, op: AluOp, dst: Reg, imm: i32) -> &mut Self {
        self.alu(Width::W32, op, dst, Source::Imm(imm))
    }

    pub fn alu32_reg(&mut self, op: AluOp, dst: Reg, src: Reg) -> &mut Self {
        self.alu(Width::W32, op, dst, Source::Reg(src))
    }

    pub fn mov64_imm(&mut self, dst: Reg, imm: i32) -> &mut Self {
        self.alu64_imm(AluOp::Mov, dst, imm)
    }

    pub fn mov64_reg(&mut self, dst: Reg, src: Reg) -> &mut Self {
        self.alu64_reg(AluOp::Mov, dst, src)
    }

    pub fn mov32_imm(&mut self, dst: Reg, imm: i32) -> &mut Self {
        self.alu32_imm(AluOp::Mov, dst, imm)
    }

    pub fn mov32_reg(&mut self, dst: Reg, src: Reg) -> &mut Self {
        self.alu32_reg(AluOp::Mov, dst, src)
    }

    pub fn alu(&mut self, width: Width, op: AluOp, dst: Reg, src: Source) -> &mut Self {
        self.insn(Insn::Alu {
            width,
            op,
            dst,
            src,
        })
    }

    pub fn neg(&mut self, width: Width, dst: Reg) -> &mut Self {
        self.insn(Insn::Neg { width, dst })
    }

    pub fn movsx(&mut self, width: Width, dst: Reg, src: Reg, from: ExtendFrom) -> &mut Self {
        self.insn(Insn::MovSx {
            width,
            dst,
            src,
            from,
        })
    }

    pub fn endian(&mut self, order: ByteOrder, bits: SwapBits, dst: Reg) -> &mut Self {
        self.insn(Insn::Endian { order, bits, dst })
    }

    // Memory, in the kernel macros' argument order (`BPF_LDX_MEM` and friends).

    /// `dst = *(size *)(src + off)`.
    pub fn ldx(&mut self, size: Size, dst: Reg, src: Reg, off: i16) -> &mut Self {
        self.insn(Insn::Load {
            size,
            dst,
            src,
            off,
        })
    }

    /// `dst = *(sN *)(src + off)`, sign-extending.
    pub fn ldx_sx(&mut self, size: Size, dst: Reg, src: Reg, off: i16) -> &mut Self {
        self.insn(Insn::LoadSx {
            size,
            dst,
            src,
            off,
        })
    }

    /// `*(size *)(dst + off) = src`.
    pub fn stx(&mut self, size: Size, dst: Reg, src: Reg, off: i16) -> &mut Self {
        self.insn(Insn::Store {
            size,
            dst,
            src,
            off,
        })
    }

    /// `*(size *)(dst + off) = imm`.
    pub fn st(&mut self, size: Size, dst: Reg, off: i16, imm: i32) -> &mut Self {
        self.insn(Insn::StoreImm {
            size,
            dst,
            off,
            imm,
        })
    }

    pub fn atomic(&mut self, size: Size, op: AtomicOp, dst: Reg, src: Reg, off: i16) -> &mut Self {
        self.insn(Insn::Atomic {
            size,
            op,
            dst,
            src,
            off,
        })
    }

    pub fn ld_imm64(&mut self, dst: Reg, value: u64) -> &mut Self {
        self.insn(Insn::LdImm64 {
            dst,
            value: Imm64::Value(value),
        })
    }

    /// `dst = &VAR`, a kernel variable by its id in the kernel's BTF (the verifier resolves it;
    /// per-CPU variables then go through bpf_per_cpu_ptr/bpf_this_cpu_ptr).
    pub fn ld_kernel_variable(&mut self, dst: Reg, btf_id: i32) -> &mut Self {
        self.insn(Insn::LdImm64 {
            dst,
            value: Imm64::BtfId {
                id: btf_id,
                btf_fd: 0,
            },
        })
    }

    /// `dst = map NAME`: the loader puts the map's fd here.
    pub fn ld_map_fd(&mut self, dst: Reg, map: &str) -> &mut Self {
        self.ld_symbol(dst, 0, RelocationTarget::Map(map.to_owned()))
    }

    /// `dst = &NAME + offset` for read-only data the object defines.
    pub fn ld_data(&mut self, dst: Reg, data: &str, offset: i32) -> &mut Self {
        // The offset is the relocation addend, kept in the immediate as clang does.
        self.ld_symbol(dst, offset, RelocationTarget::Data(data.to_owned()))
    }

    /// `dst = &function`, a `.text` function the object defines (for callbacks).
    pub fn ld_func(&mut self, dst: Reg, function: &str) -> &mut Self {
        self.ld_symbol(
            dst,
            0,
            RelocationTarget::FunctionAddress(function.to_owned()),
        )
    }

    fn ld_symbol(&mut self, dst: Reg, addend: i32, target: RelocationTarget) -> &mut Self {
        self.relocations.push(Relocation {
            insn_index: self.items.len(),
            target,
        });
        self.ld_imm64(dst, u64::from(addend as u32))
    }

    pub fn ld_abs(&mut self, size: Size, imm: i32) -> &mut Self {
        self.insn(Insn::LdAbs { size, imm })
    }

    pub fn ld_ind(&mut self, size: Size, src: Reg, imm: i32) -> &mut Self {
        self.insn(Insn::LdInd { size, src, imm })
    }

    // Control flow.

    /// `goto label`.
    pub fn ja(&mut self, label: &str) -> &mut Self {
        self.jump(Insn::Ja { off: 0 }, label)
    }

    /// `gotol label`: like `ja` with a 32-bit reach.
    pub fn gotol(&mut self, label: &str) -> &mut Self {
        self.jump(Insn::Gotol { imm: 0 }, label)
    }

    pub fn jmp_imm(&mut self, op: JmpOp, dst: Reg, imm: i32, label: &str) -> &mut Self {
        self.jmp(Width::W64, op, dst, Source::Imm(imm), label)
    }

    pub fn jmp_reg(&mut self, op: JmpOp, dst: Reg, src: Reg, label: &str) -> &mut Self {
        self.jmp(Width::W64, op, dst, Source::Reg(src), label)
    }

    pub fn jmp32_imm(&mut self, op: JmpOp, dst: Reg, imm: i32, label: &str) -> &mut Self {
        self.jmp(Width::W32, op, dst, Source::Imm(imm), label)
    }

    pub fn jmp32_reg(&mut self, op: JmpOp, dst: Reg, src: Reg, label: &str) -> &mut Self {
        self.jmp(Width::W32, op, dst, Source::Reg(src), label)
    }

    pub fn jmp(
        &mut self,
        width: Width,
        op: JmpOp,
        dst: Reg,
        src: Source,
        label: &str,
    ) -> &mut Self {
        let insn = Insn::Jmp {
            width,
            op,
            dst,
            src,
            off: 0,
        };
        self.jump(insn, label)
    }

    fn jump(&mut self, insn: Insn, label: &str) -> &mut Self {
        self.items.push(Pending::Jump {
            insn,
            label: label.to_owned(),
        });
        self
    }

    pub fn call_helper(&mut self, helper: Helper) -> &mut Self {
        self.call_helper_id(helper.id())
    }

    pub fn call_helper_id(&mut self, id: i32) -> &mut Self {
        self.insn(Insn::Call(Call::Helper(id)))
    }

    /// Calls a helper by name (`map_lookup_elem` or `bpf_map_lookup_elem`).
    pub fn call_helper_named(&mut self, name: &str) -> &mut Self {
        match Helper::from_name(name) {
            Some(helper) => self.call_helper(helper),
            None => {
                self.record_error(AsmError::UnknownHelper(name.to_owned()));
                self
            }
        }
    }

    /// Calls a bpf-to-bpf function: a label of this program, or else a
    /// function in the object's `.text` (left as a relocation).
    pub fn call_local(&mut self, function: &str) -> &mut Self {
        self.items.push(Pending::CallLocal {
            label: function.to_owned(),
        });
        self
    }

    pub fn call_kfunc(&mut self, btf_id: i32) -> &mut Self {
        self.insn(Insn::Call(Call::Kfunc { btf_id, module: 0 }))
    }

    pub fn exit(&mut self) -> &mut Self {
        self.insn(Insn::Exit)
    }

    /// Records an error found while parsing or building; only the first is kept
    /// because later ones are usually its echoes.
    pub fn record_error(&mut self, error: AsmError) {
        self.first_error.get_or_insert(error);
    }

    /// Resolves labels and returns the program. A jump whose distance does not fit 16 bits
    /// becomes a `gotol` (kernel 6.4): `goto` directly, a conditional jump as the inverted
    /// condition jumping over it (`jset`, which has no inverse, jumps to it past a `goto`).
    pub fn finish(self) -> Result<Program, AsmError> {
        if let Some(error) = self.first_error {
            return Err(error);
        }
        let far = self.far_jumps()?;
        let slot_of = self.slots(&far);
        let target = |label: &str| {
            self.labels
                .get(label)
                .map(|&item| slot_of[item])
                .ok_or_else(|| AsmError::UndefinedLabel(label.to_owned()))
        };

        let mut insn_of = Vec::with_capacity(self.items.len());
        let mut insns = Vec::with_capacity(self.items.len());
        let mut local_calls = Vec::new();
        for (index, item) in self.items.iter().enumerate() {
            insn_of.push(insns.len());
            let here = slot_of[index];
            match item {
                Pending::Ready(insn) => insns.push(*insn),
                Pending::Jump { insn, label } if far[index] => {
                    let long = slot_of[index + 1] - 1;
                    insns.extend(far_jump(*insn));
                    insns.push(Insn::Gotol {
                        imm: fit_i32(label, target(label)? - long - 1)?,
                    });
                }
                Pending::Jump { insn, label } => {
                    insns.push(patch_jump(*insn, label, target(label)? - here - 1)?);
                }
                Pending::CallLocal { label } => match self.labels.get(label) {
                    Some(&item) => insns.push(Insn::Call(Call::Local(fit_i32(
                        label,
                        slot_of[item] - here - 1,
                    )?))),
                    None => {
                        local_calls.push((index, label.clone()));
                        // -1 with the symbol's address is how clang and libbpf
                        // express "the start of that function".
                        insns.push(Insn::Call(Call::Local(-1)));
                    }
                },
            }
        }
        for (index, insn) in insns.iter().enumerate() {
            insn.check()
                .map_err(|reason| AsmError::MalformedInstruction { index, reason })?;
        }
        let mut relocations: Vec<Relocation> = self
            .relocations
            .into_iter()
            .chain(
                local_calls
                    .into_iter()
                    .map(|(insn_index, label)| Relocation {
                        insn_index,
                        target: RelocationTarget::Function(label),
                    }),
            )
            .map(|relocation| Relocation {
                insn_index: insn_of[relocation.insn_index],
                ..relocation
            })
            .collect();
        relocations.sort_by_key(|relocation| relocation.insn_index);
        Ok(Program { insns, relocations })
    }

    /// Which jumps need the long form. A jump made long moves the code after it, so others
    /// may no longer reach: repeat until none changes (each pass only lengthens, so it ends).
    fn far_jumps(&self) -> Result<Vec<bool>, AsmError> {
        let mut far = vec![false; self.items.len()];
        loop {
            let slot_of = self.slots(&far);
            let mut changed = false;
            for (index, item) in self.items.iter().enumerate() {
                let Pending::Jump { insn, label } = item else {
                    continue;
                };
                if far[index] || matches!(insn, Insn::Gotol { .. }) {
                    continue;
                }
                let target = *self
                    .labels
                    .get(label)
                    .ok_or_else(|| AsmError::UndefinedLabel(label.clone()))?;
                if i16::try_from(slot_of[target] - slot_of[index] - 1).is_err() {
                    far[index] = true;
                    changed = true;
                }
            }
            if !changed {
                return Ok(far);
            }
        }
    }

    /// The slot number of each item, plus one past the end so a label may sit after the last
    /// instruction.
    fn slots(&self, far: &[bool]) -> Vec<i64> {
        let mut slot_of = Vec::with_capacity(self.items.len() + 1);
        let mut slot = 0i64;
        for (item, &far) in self.items.iter().zip(far) {
            slot_of.push(slot);
            slot += match item {
                Pending::Jump { insn, .. } if far => far_jump(*insn).len() as i64 + 1,
                Pending::Ready(insn) | Pending::Jump { insn, .. } => insn.slots() as i64,
                Pending::CallLocal { .. } => 1,
            };
        }
        slot_of.push(slot);
        slot_of
    }
}

/// What leads to the `gotol` of a far jump: nothing for `goto`; for a conditional jump, its
/// negation skipping the `gotol`, or (`jset`) the jump itself onto the `gotol` past a `goto`
/// that skips it.
fn far_jump(insn: Insn) -> Vec<Insn> {
    match insn {
        Insn::Jmp {
            width,
            op,
            dst,
            src,
            ..
        } => match op.negated() {
            Some(negated) => vec![Insn::Jmp {
                width,
                op: negated,
                dst,
                src,
                off: 1,
            }],
            None => vec![
                Insn::Jmp {
                    width,
                    op,
                    dst,
                    src,
                    off: 1,
                },
                Insn::Ja { off: 1 },
            ],
        },
        _ => Vec::new(),
    }
}

fn patch_jump(insn: Insn, label: &str, distance: i64) -> Result<Insn, AsmError> {
    let fit_i16 = || {
        i16::try_from(distance).map_err(|_| AsmError::JumpOutOfRange {
            label: label.to_owned(),
            distance,
            limit: i64::from(i16::MAX),
        })
    };
    Ok(match insn {
        Insn::Ja { .. } => Insn::Ja { off: fit_i16()? },
        Insn::Gotol { .. } => Insn::Gotol {
            imm: fit_i32(label, distance)?,
        },
        Insn::Jmp {
            width,
            op,
            dst,
            src,
            ..
        } => Insn::Jmp {
            width,
            op,
            dst,
            src,
            off: fit_i16()?,
        },
        other => other,
    })
}

fn fit_i32(label: &str, distance: i64) -> Result<i32, AsmError> {
    i32::try_from(distance).map_err(|_| AsmError::JumpOutOfRange {
        label: label.to_owned(),
        distance,
        limit: i64::from(i32::MAX),
    })
}

//! The one error type of the `asm` module.

/// Everything that can go wrong while building, decoding, parsing or writing
/// eBPF programs. Each variant names the place (byte offset, line and column,
/// label or symbol) so the message can be acted on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AsmError {
    /// The byte stream ended inside an instruction.
    #[error("truncated instruction at byte {offset}: need {needed} bytes, have {available}")]
    Truncated {
        offset: usize,
        needed: usize,
        available: usize,
    },

    /// The bytes do not form an instruction the kernel accepts.
    #[error("invalid instruction at byte {offset} (opcode {opcode:#04x}): {reason}")]
    InvalidInstruction {
        offset: usize,
        opcode: u8,
        reason: &'static str,
    },

    /// An instruction value that cannot be encoded as the kernel expects it.
    #[error("instruction {index} is malformed: {reason}")]
    MalformedInstruction { index: usize, reason: &'static str },

    /// A jump or call names a label that was never placed.
    #[error("undefined label `{0}`")]
    UndefinedLabel(String),

    /// The same label was placed twice in one program.
    #[error("label `{0}` is defined twice")]
    DuplicateLabel(String),

    /// A jump's distance does not fit its offset field.
    #[error("jump to `{label}` is {distance} instructions away, beyond the {limit} limit")]
    JumpOutOfRange {
        label: String,
        distance: i64,
        limit: i64,
    },

    /// A helper name that is not in the kernel's helper table.
    #[error("unknown helper `{0}`")]
    UnknownHelper(String),

    /// A program loads a map that the object does not define.
    #[error("program `{program}` refers to undefined map `{map}`")]
    UndefinedMap { program: String, map: String },

    /// A program calls a function that neither it nor `.text` defines.
    #[error("program `{program}` calls undefined function `{function}`")]
    UndefinedFunction { program: String, function: String },

    /// A program refers to read-only data that the object does not define.
    #[error("program `{program}` refers to undefined data `{data}`")]
    UndefinedData { program: String, data: String },

    /// An object program calls a label inside itself; loaders (aya, libbpf)
    /// only link calls to function symbols, so the callee belongs in `.text`.
    #[error(
        "program `{program}` calls a label inside itself (instruction {insn_index}); \
         in an object, define the callee as a `.text` function"
    )]
    CallIntoProgram { program: String, insn_index: usize },

    /// A relocation names a symbol the object's symbol table lacks.
    #[error("relocation against undefined symbol `{0}`")]
    UndefinedSymbol(String),

    /// Two things in one object share a symbol name.
    #[error("symbol `{0}` is defined twice")]
    DuplicateSymbol(String),

    /// The assembler text could not be parsed.
    #[error("line {line}:{column}: {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
}

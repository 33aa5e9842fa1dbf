//! Parses instruction lines into programs. Instructions go through the
//! [`Builder`], so labels are resolved the same way as in Rust code.

use super::lexer::{is_ident_continue, is_ident_start, strip_comment, tokenize, Token, TokenKind};
use super::{alu_symbol, atomic_fetch_name, jmp_symbol, signed_size_name, size_name};
use crate::asm::insn::*;
use crate::asm::{AsmError, Builder, Helper, Program};

/// Parses instructions (and labels) into one program. Directives are not
/// allowed here; use [`super::parse_object`] for text that declares sections and maps.
pub fn parse_program(text: &str) -> Result<Program, AsmError> {
    let mut program = ProgramParser::default();
    for (line, content) in lines(text) {
        let content = content.as_str();
        if let Some((word, column)) = leading_directive(content) {
            return Err(syntax(
                line,
                column,
                format!("directive `{word}` needs parse_object"),
            ));
        }
        program.parse_line(line, content)?;
    }
    program.finish()
}

pub(super) fn syntax(line: usize, column: usize, message: impl Into<String>) -> AsmError {
    AsmError::Syntax {
        line,
        column,
        message: message.into(),
    }
}

/// Non-empty lines, numbered from 1, comments removed.
pub(super) fn lines(text: &str) -> impl Iterator<Item = (usize, String)> + '_ {
    text.lines()
        .enumerate()
        .map(|(index, line)| (index + 1, blank_verifier_prefix(strip_comment(line))))
        .filter(|(_, line)| !line.trim().is_empty())
}

/// Blanks out the `12: (bf) ` prefix of verifier logs and `bpftool prog dump
/// xlated`, so such listings parse; spaces keep the columns of the rest right.
fn blank_verifier_prefix(line: &str) -> String {
    let lead = line.len() - line.trim_start().len();
    let digits = line[lead..]
        .chars()
        .take_while(char::is_ascii_digit)
        .count();
    let after_index = lead + digits;
    if digits == 0 || !line[after_index..].starts_with(':') {
        return line.to_owned();
    }
    let mut end = after_index + 1;
    let rest = &line[end..];
    let opcode = rest.trim_start();
    let is_opcode = opcode.len() >= 4
        && opcode.starts_with('(')
        && opcode.get(3..4) == Some(")")
        && opcode
            .get(1..3)
            .is_some_and(|hex| u8::from_str_radix(hex, 16).is_ok());
    if is_opcode {
        end += rest.len() - opcode.len() + 4;
    }
    format!(
        "{}{}",
        " ".repeat(line[..end].chars().count()),
        &line[end..]
    )
}

/// `(".section", column)` if the line starts with a directive.
pub(super) fn leading_directive(line: &str) -> Option<(&str, usize)> {
    let start = line.len() - line.trim_start().len();
    let word = line[start..].split_whitespace().next()?;
    word.starts_with('.')
        .then(|| (word, column_of(line, start)))
}

/// 1-based character column of byte offset `offset` in `line`.
pub(super) fn column_of(line: &str, offset: usize) -> usize {
    line[..offset].chars().count() + 1
}

/// A name used somewhere, remembered with its position for later errors.
#[derive(Debug, Clone)]
pub(super) struct Reference {
    pub(super) name: String,
    pub(super) line: usize,
    pub(super) column: usize,
}

/// One program (or `.text` function) being parsed.
#[derive(Default)]
pub(super) struct ProgramParser {
    pub(super) builder: Builder,
    jumps: Vec<Reference>,
    pub(super) calls: Vec<Reference>,
    pub(super) maps: Vec<Reference>,
    pub(super) data: Vec<Reference>,
}

impl ProgramParser {
    pub(super) fn parse_line(&mut self, line: usize, content: &str) -> Result<(), AsmError> {
        let mut rest = content;
        // `name:` places a label; an instruction may follow on the same line.
        if let Some((label, after)) = split_label(content) {
            self.builder.label(label);
            rest = after;
        }
        if rest.trim().is_empty() {
            return Ok(());
        }
        let first_column = column_of(content, content.len() - rest.len());
        let word_start = rest.len() - rest.trim_start().len();
        let trimmed = rest.trim_start();
        if let Some(operand) = trimmed.strip_prefix("call") {
            if operand.is_empty() || operand.starts_with(char::is_whitespace) {
                let column = first_column + word_start + 4;
                return self.parse_call(line, column, operand);
            }
        }
        let tokens = tokenize(rest, line, first_column)?;
        let end_column = first_column + rest.chars().count();
        let mut cursor = Cursor {
            tokens,
            position: 0,
            line,
            end_column,
        };
        self.parse_statement(&mut cursor)?;
        cursor.expect_end()
    }

    /// `call` operands: `bpf_name#id`, `name#id`, `pc+N`, `kernel-function#id[@module]`,
    /// a helper `bpf_name`, a bare id, or the name of a bpf-to-bpf function.
    fn parse_call(&mut self, line: usize, column: usize, operand: &str) -> Result<(), AsmError> {
        let lead = operand.len() - operand.trim_start().len();
        let column = column + operand[..lead].chars().count();
        let text = operand.trim();
        let error = |message: String| syntax(line, column, message);
        if text.is_empty() {
            return Err(error("`call` needs a target".to_owned()));
        }
        if let Some(id) = text.strip_prefix("kernel-function#") {
            let (id, module) = match id.split_once('@') {
                Some((id, module)) => (id, module),
                None => (id, "0"),
            };
            let btf_id = parse_signed(id).and_then(|v| i32::try_from(v).ok());
            let module = parse_signed(module).and_then(|v| i16::try_from(v).ok());
            let (Some(btf_id), Some(module)) = (btf_id, module) else {
                return Err(error(format!("invalid kfunc call `{text}`")));
            };
            self.builder
                .insn(Insn::Call(Call::Kfunc { btf_id, module }));
            return Ok(());
        }
        if let Some(offset) = text.strip_prefix("pc") {
            let imm = parse_signed(offset)
                .and_then(|v| i32::try_from(v).ok())
                .ok_or_else(|| error(format!("invalid call offset `{text}`")))?;
            self.builder.insn(Insn::Call(Call::Local(imm)));
            return Ok(());
        }
        if let Some((_, id)) = text.split_once('#') {
            let id = parse_signed(id)
                .and_then(|v| i32::try_from(v).ok())
                .ok_or_else(|| error(format!("invalid helper id in `{text}`")))?;
            self.builder.call_helper_id(id);
            return Ok(());
        }
        if let Some(id) = parse_signed(text).and_then(|v| i32::try_from(v).ok()) {
            self.builder.call_helper_id(id);
            return Ok(());
        }
        if !is_identifier(text) {
            return Err(error(format!("invalid call target `{text}`")));
        }
        if text.starts_with("bpf_") {
            let helper =
                Helper::from_name(text).ok_or_else(|| error(format!("unknown helper `{text}`")))?;
            self.builder.call_helper(helper);
            return Ok(());
        }
        self.calls.push(Reference {
            name: text.to_owned(),
            line,
            column,
        });
        self.builder.call_local(text);
        Ok(())
    }

    fn parse_statement(&mut self, cursor: &mut Cursor) -> Result<(), AsmError> {
        let (word, column) = match cursor.peek() {
            Some(TokenKind::Ident(word)) => (word.clone(), cursor.column()),
            Some(TokenKind::Punct("*")) => return self.parse_store(cursor),
            _ => return Err(cursor.error_here("expected an instruction")),
        };
        match word.as_str() {
            "exit" => {
                cursor.advance();
                self.builder.exit();
            }
            "goto" | "gotol" => {
                cursor.advance();
                let long = word == "gotol";
                match cursor.jump_target()? {
                    Target::Relative(offset, column) if long => {
                        let imm = cursor.fit((offset, column), "gotol offset")?;
                        self.builder.insn(Insn::Gotol { imm });
                    }
                    Target::Relative(offset, column) => {
                        let off = cursor.fit((offset, column), "goto offset")?;
                        self.builder.insn(Insn::Ja { off });
                    }
                    Target::Label(reference) => {
                        let label = reference.name.clone();
                        self.jumps.push(reference);
                        if long {
                            self.builder.gotol(&label);
                        } else {
                            self.builder.ja(&label);
                        }
                    }
                }
            }
            "if" => {
                cursor.advance();
                self.parse_conditional(cursor)?;
            }
            "lock" => {
                cursor.advance();
                self.parse_lock(cursor)?;
            }
            "ld_map_fd" => {
                // `ld_map_fd r1, NAME`: the kernel macro's spelling of a map load.
                cursor.advance();
                let (dst, width) = cursor.register()?;
                cursor.require_width(width, Width::W64, column)?;
                cursor.expect_punct(",")?;
                let name = cursor.reference()?;
                self.builder.ld_map_fd(dst, &name.name);
                self.maps.push(name);
            }
            _ => self.parse_assignment(cursor)?,
        }
        Ok(())
    }

    fn parse_conditional(&mut self, cursor: &mut Cursor) -> Result<(), AsmError> {
        let (dst, width) = cursor.register()?;
        let op_column = cursor.column();
        let symbol = cursor.punct()?;
        let op = JmpOp::ALL
            .into_iter()
            .find(|op| jmp_symbol(*op) == symbol)
            .ok_or_else(|| cursor.error_at(op_column, format!("unknown comparison `{symbol}`")))?;
        let src = cursor.source(width)?;
        cursor.expect_ident("goto")?;
        match cursor.jump_target()? {
            Target::Relative(offset, column) => {
                let off = cursor.fit((offset, column), "jump offset")?;
                self.builder.insn(Insn::Jmp {
                    width,
                    op,
                    dst,
                    src,
                    off,
                });
            }
            Target::Label(reference) => {
                self.builder.jmp(width, op, dst, src, &reference.name);
                self.jumps.push(reference);
            }
        }
        Ok(())
    }

    /// `lock *(u64 *)(r1 +0) += r2`.
    fn parse_lock(&mut self, cursor: &mut Cursor) -> Result<(), AsmError> {
        cursor.expect_punct("*")?;
        let (size, _) = cursor.pointer_type()?;
        let (dst, off) = cursor.address()?;
        let op_column = cursor.column();
        let op = match cursor.punct()? {
            "+=" => AtomicOp::Add,
            "|=" => AtomicOp::Or,
            "&=" => AtomicOp::And,
            "^=" => AtomicOp::Xor,
            other => return Err(cursor.error_at(op_column, format!("no atomic `{other}`"))),
        };
        let (src, _) = cursor.register()?;
        self.builder.atomic(size, op, dst, src, off);
        Ok(())
    }

    /// `*(u32 *)(r10 -4) = r1` or `= 7`.
    fn parse_store(&mut self, cursor: &mut Cursor) -> Result<(), AsmError> {
        cursor.expect_punct("*")?;
        let (size, signed) = cursor.pointer_type()?;
        if signed {
            return Err(cursor.error_here("stores take unsigned pointer types"));
        }
        let (dst, off) = cursor.address()?;
        cursor.expect_punct("=")?;
        match cursor.peek() {
            Some(TokenKind::Ident(_)) => {
                let (src, _) = cursor.register()?;
                self.builder.stx(size, dst, src, off);
            }
            _ => {
                let imm = cursor.imm32()?;
                self.builder.st(size, dst, off, imm);
            }
        }
        Ok(())
    }

    /// Everything that starts with a destination register.
    fn parse_assignment(&mut self, cursor: &mut Cursor) -> Result<(), AsmError> {
        let dst_column = cursor.column();
        let (dst, width) = cursor.register()?;
        let op_column = cursor.column();
        let symbol = cursor.punct()?;
        if symbol != "=" {
            let op = AluOp::ALL
                .into_iter()
                .find(|op| alu_symbol(*op) == symbol)
                .ok_or_else(|| {
                    cursor.error_at(op_column, format!("unknown operator `{symbol}`"))
                })?;
            let src = cursor.source(width)?;
            self.builder.alu(width, op, dst, src);
            return Ok(());
        }
        let value_column = cursor.column();
        match cursor.peek().cloned() {
            Some(TokenKind::Punct("*")) => {
                cursor.advance();
                self.parse_load(cursor, dst, width, dst_column)
            }
            Some(TokenKind::Punct("-")) if cursor.peek_at(1).is_some_and(is_register_token) => {
                cursor.advance();
                let (src, src_width) = cursor.register()?;
                cursor.require_width(src_width, width, value_column)?;
                if src != dst {
                    return Err(cursor.error_at(value_column, "neg must use one register"));
                }
                self.builder.neg(width, dst);
                Ok(())
            }
            Some(TokenKind::Punct("(")) => {
                // `r0 = (s8)r1`
                cursor.advance();
                let from_column = cursor.column();
                let from = match cursor.ident()?.as_str() {
                    "s8" => ExtendFrom::B8,
                    "s16" => ExtendFrom::B16,
                    "s32" => ExtendFrom::B32,
                    other => {
                        return Err(
                            cursor.error_at(from_column, format!("cannot extend from `{other}`"))
                        )
                    }
                };
                cursor.expect_punct(")")?;
                let (src, src_width) = cursor.register()?;
                cursor.require_width(src_width, width, value_column)?;
                self.builder.movsx(width, dst, src, from);
                Ok(())
            }
            Some(TokenKind::Ident(word)) if is_register_name(&word) => {
                let (src, src_width) = cursor.register()?;
                cursor.require_width(src_width, width, value_column)?;
                self.builder.alu(width, AluOp::Mov, dst, Source::Reg(src));
                Ok(())
            }
            Some(TokenKind::Ident(word)) => {
                cursor.advance();
                cursor.require_width(width, Width::W64, dst_column)?;
                self.parse_named_value(cursor, dst, &word, value_column)
            }
            _ => {
                let value = cursor.signed_number()?;
                if cursor.eat_ident("ll") {
                    let value = cursor.fit_u64(value, value_column)?;
                    cursor.require_width(width, Width::W64, dst_column)?;
                    self.builder.ld_imm64(dst, value);
                } else {
                    let imm = cursor.fit_imm32(value, value_column)?;
                    self.builder.alu(width, AluOp::Mov, dst, Source::Imm(imm));
                }
                Ok(())
            }
        }
    }

    /// After `dst = *`: memory loads and legacy packet loads.
    fn parse_load(
        &mut self,
        cursor: &mut Cursor,
        dst: Reg,
        width: Width,
        column: usize,
    ) -> Result<(), AsmError> {
        cursor.require_width(width, Width::W64, column)?;
        let (size, signed) = cursor.pointer_type()?;
        if cursor.eat_ident("skb") {
            if dst != R0 || signed {
                return Err(cursor.error_at(column, "packet loads write r0 with an unsigned size"));
            }
            cursor.expect_punct("[")?;
            if matches!(cursor.peek(), Some(TokenKind::Ident(_))) {
                let (src, _) = cursor.register()?;
                cursor.expect_punct("+")?;
                let imm = cursor.imm32()?;
                cursor.expect_punct("]")?;
                self.builder.ld_ind(size, src, imm);
            } else {
                let imm = cursor.imm32()?;
                cursor.expect_punct("]")?;
                self.builder.ld_abs(size, imm);
            }
            return Ok(());
        }
        let (src, off) = cursor.address()?;
        if signed {
            self.builder.ldx_sx(size, dst, src, off);
        } else {
            self.builder.ldx(size, dst, src, off);
        }
        Ok(())
    }

    /// After `dst = WORD`: byte swaps, atomics with fetch, map and data loads.
    fn parse_named_value(
        &mut self,
        cursor: &mut Cursor,
        dst: Reg,
        word: &str,
        column: usize,
    ) -> Result<(), AsmError> {
        if let Some((order, bits)) = parse_endian(word) {
            let (src, _) = cursor.register()?;
            if src != dst {
                return Err(cursor.error_at(column, "byte swaps use one register"));
            }
            self.builder.endian(order, bits, dst);
            return Ok(());
        }
        if let Some(name) = word.strip_prefix("atomic") {
            return self.parse_fetch_atomic(cursor, dst, name, column);
        }
        let value = match word {
            "map" if cursor.peek() == Some(&TokenKind::Punct("[")) => cursor.map_bracket()?,
            "map" => {
                let name = cursor.reference()?;
                cursor.eat_ident("ll");
                self.builder.ld_map_fd(dst, &name.name);
                self.maps.push(name);
                return Ok(());
            }
            "rodata" => {
                let name = cursor.reference()?;
                let offset = if cursor.eat_punct("+") {
                    cursor.imm32()?
                } else {
                    0
                };
                cursor.eat_ident("ll");
                self.builder.ld_data(dst, &name.name, offset);
                self.data.push(name);
                return Ok(());
            }
            "btf" => {
                let id = cursor.bracket_field("id")?;
                let btf_fd = if cursor.peek() == Some(&TokenKind::Punct("[")) {
                    cursor.bracket_field("fd")?
                } else {
                    0
                };
                Imm64::BtfId { id, btf_fd }
            }
            "subprog" => {
                cursor.expect_punct("[")?;
                let offset = match cursor.jump_target()? {
                    Target::Relative(offset, column) => {
                        cursor.fit((offset, column), "subprog offset")?
                    }
                    Target::Label(reference) => {
                        return Err(cursor.error_at(reference.column, "subprog[] takes pc+N"))
                    }
                };
                cursor.expect_punct("]")?;
                Imm64::Func(offset)
            }
            other => return Err(cursor.error_at(column, format!("unknown value `{other}`"))),
        };
        cursor.eat_ident("ll");
        self.builder.insn(Insn::LdImm64 { dst, value });
        Ok(())
    }

    /// `r2 = atomic64_fetch_add((u64 *)(r1 +0), r2)`, `r0 = atomic_cmpxchg(..., r0, r2)`.
    fn parse_fetch_atomic(
        &mut self,
        cursor: &mut Cursor,
        dst: Reg,
        name: &str,
        column: usize,
    ) -> Result<(), AsmError> {
        let (is_64, name) = match name.strip_prefix("64") {
            Some(rest) => (true, rest),
            None => (false, name),
        };
        let op = name
            .strip_prefix('_')
            .and_then(|name| {
                AtomicOp::ALL
                    .into_iter()
                    .find(|op| atomic_fetch_name(*op) == Some(name))
            })
            .ok_or_else(|| cursor.error_at(column, format!("unknown atomic `atomic{name}`")))?;
        cursor.expect_punct("(")?;
        let (size, _) = cursor.pointer_type()?;
        if (size == Size::DW) != is_64 {
            return Err(cursor.error_at(column, "atomic64_ goes with u64, atomic_ with u32"));
        }
        let (address, off) = cursor.address()?;
        cursor.expect_punct(",")?;
        if op == AtomicOp::CmpXchg {
            let (expected, _) = cursor.register()?;
            if dst != R0 || expected != R0 {
                return Err(cursor.error_at(column, "cmpxchg compares and returns r0"));
            }
            cursor.expect_punct(",")?;
        }
        let (src, _) = cursor.register()?;
        cursor.expect_punct(")")?;
        if op != AtomicOp::CmpXchg && src != dst {
            return Err(
                cursor.error_at(column, "fetching atomics return into their source register")
            );
        }
        self.builder.atomic(size, op, address, src, off);
        Ok(())
    }

    /// Checks jump labels (with positions) and resolves the program.
    pub(super) fn finish(self) -> Result<Program, AsmError> {
        if let Some(missing) = self.jumps.iter().find(|r| !self.builder.has_label(&r.name)) {
            return Err(syntax(
                missing.line,
                missing.column,
                format!("undefined label `{}`", missing.name),
            ));
        }
        self.builder.finish()
    }
}

fn is_register_name(word: &str) -> bool {
    let digits = word.strip_prefix('r').or_else(|| word.strip_prefix('w'));
    digits
        .and_then(|d| d.parse::<u8>().ok())
        .is_some_and(|n| n <= 10)
}

fn is_register_token(kind: &TokenKind) -> bool {
    matches!(kind, TokenKind::Ident(word) if is_register_name(word))
}

pub(super) fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(is_ident_start) && chars.all(is_ident_continue)
}

/// `le16`, `be32`, `bswap64`.
fn parse_endian(word: &str) -> Option<(ByteOrder, SwapBits)> {
    let (order, bits) = if let Some(bits) = word.strip_prefix("bswap") {
        (ByteOrder::Swap, bits)
    } else if let Some(bits) = word.strip_prefix("le") {
        (ByteOrder::Le, bits)
    } else {
        (ByteOrder::Be, word.strip_prefix("be")?)
    };
    let bits = match bits {
        "16" => SwapBits::B16,
        "32" => SwapBits::B32,
        "64" => SwapBits::B64,
        _ => return None,
    };
    Some((order, bits))
}

/// `+3`, `-3`, `3`, `0x10`.
fn parse_signed(text: &str) -> Option<i64> {
    let text = text.trim();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let magnitude = i64::try_from(super::lexer::parse_number(digits)?).ok()?;
    Some(if negative { -magnitude } else { magnitude })
}

/// `label:` at the start of a line; returns the label and what follows.
fn split_label(line: &str) -> Option<(&str, &str)> {
    let trimmed = line.trim_start();
    let end = trimmed.find(|c: char| !is_ident_continue(c))?;
    let (name, rest) = trimmed.split_at(end);
    let rest = rest.strip_prefix(':')?;
    (is_identifier(name)).then_some((name, rest))
}

enum Target {
    /// `pc+N`: the offset and its column.
    Relative(i64, usize),
    Label(Reference),
}

/// A position in one line's tokens.
struct Cursor {
    tokens: Vec<Token>,
    position: usize,
    line: usize,
    end_column: usize,
}

impl Cursor {
    fn peek(&self) -> Option<&TokenKind> {
        self.peek_at(0)
    }

    fn peek_at(&self, ahead: usize) -> Option<&TokenKind> {
        self.tokens
            .get(self.position + ahead)
            .map(|token| &token.kind)
    }

    fn advance(&mut self) {
        self.position += 1;
    }

    /// Column of the next token, or of the end of the line.
    fn column(&self) -> usize {
        self.tokens
            .get(self.position)
            .map_or(self.end_column, |token| token.column)
    }

    fn error_at(&self, column: usize, message: impl Into<String>) -> AsmError {
        syntax(self.line, column, message)
    }

    fn error_here(&self, message: &str) -> AsmError {
        let found = match self.peek() {
            None => "end of line".to_owned(),
            Some(TokenKind::Ident(word)) => format!("`{word}`"),
            Some(TokenKind::Number(number)) => format!("`{number}`"),
            Some(TokenKind::Punct(punct)) => format!("`{punct}`"),
            Some(TokenKind::Str(_)) => "a string".to_owned(),
        };
        self.error_at(self.column(), format!("{message}, found {found}"))
    }

    fn expect_end(&self) -> Result<(), AsmError> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(self.error_here("expected end of instruction")),
        }
    }

    fn eat_punct(&mut self, punct: &str) -> bool {
        let found = matches!(self.peek(), Some(TokenKind::Punct(p)) if *p == punct);
        if found {
            self.advance();
        }
        found
    }

    fn expect_punct(&mut self, punct: &str) -> Result<(), AsmError> {
        if self.eat_punct(punct) {
            Ok(())
        } else {
            Err(self.error_here(&format!("expected `{punct}`")))
        }
    }

    fn punct(&mut self) -> Result<&'static str, AsmError> {
        match self.peek() {
            Some(TokenKind::Punct(punct)) => {
                let punct = *punct;
                self.advance();
                Ok(punct)
            }
            _ => Err(self.error_here("expected an operator")),
        }
    }

    fn eat_ident(&mut self, word: &str) -> bool {
        let found = matches!(self.peek(), Some(TokenKind::Ident(w)) if w == word);
        if found {
            self.advance();
        }
        found
    }

    fn expect_ident(&mut self, word: &str) -> Result<(), AsmError> {
        if self.eat_ident(word) {
            Ok(())
        } else {
            Err(self.error_here(&format!("expected `{word}`")))
        }
    }

    fn ident(&mut self) -> Result<String, AsmError> {
        match self.peek() {
            Some(TokenKind::Ident(word)) => {
                let word = word.clone();
                self.advance();
                Ok(word)
            }
            _ => Err(self.error_here("expected a name")),
        }
    }

    fn reference(&mut self) -> Result<Reference, AsmError> {
        let column = self.column();
        let name = self.ident()?;
        Ok(Reference {
            name,
            line: self.line,
            column,
        })
    }

    /// `r3` (64-bit) or `w3` (32-bit).
    fn register(&mut self) -> Result<(Reg, Width), AsmError> {
        if let Some(TokenKind::Ident(word)) = self.peek() {
            if is_register_name(word) {
                let width = if word.starts_with('w') {
                    Width::W32
                } else {
                    Width::W64
                };
                let number = word[1..].parse().ok().and_then(Reg::new);
                if let Some(reg) = number {
                    self.advance();
                    return Ok((reg, width));
                }
            }
        }
        Err(self.error_here("expected a register r0..r10 or w0..w10"))
    }

    fn require_width(&self, found: Width, wanted: Width, column: usize) -> Result<(), AsmError> {
        if found == wanted {
            Ok(())
        } else {
            let name = |width| if width == Width::W64 { "rN" } else { "wN" };
            Err(self.error_at(
                column,
                format!(
                    "expected a {} register here, not {}",
                    name(wanted),
                    name(found)
                ),
            ))
        }
    }

    /// A register of the given width, or an immediate.
    fn source(&mut self, width: Width) -> Result<Source, AsmError> {
        let column = self.column();
        if matches!(self.peek(), Some(TokenKind::Ident(_))) {
            let (reg, found) = self.register()?;
            self.require_width(found, width, column)?;
            Ok(Source::Reg(reg))
        } else {
            Ok(Source::Imm(self.imm32()?))
        }
    }

    /// An optionally negative number, as i128 so u64 and negatives both fit.
    fn signed_number(&mut self) -> Result<i128, AsmError> {
        let negative = self.eat_punct("-");
        if !negative {
            self.eat_punct("+");
        }
        match self.peek() {
            Some(TokenKind::Number(value)) => {
                let value = i128::from(*value);
                self.advance();
                Ok(if negative { -value } else { value })
            }
            _ => Err(self.error_here("expected a number")),
        }
    }

    /// A 32-bit immediate; `0xffffffff` and `-1` both mean all ones, as the
    /// kernel prints jump immediates in hex and arithmetic ones in decimal.
    fn imm32(&mut self) -> Result<i32, AsmError> {
        let column = self.column();
        let value = self.signed_number()?;
        self.fit_imm32(value, column)
    }

    fn fit_imm32(&self, value: i128, column: usize) -> Result<i32, AsmError> {
        if let Ok(value) = i32::try_from(value) {
            return Ok(value);
        }
        u32::try_from(value)
            .map(|value| value as i32)
            .map_err(|_| self.error_at(column, format!("{value} does not fit in 32 bits")))
    }

    fn fit_u64(&self, value: i128, column: usize) -> Result<u64, AsmError> {
        if let Ok(value) = u64::try_from(value) {
            return Ok(value);
        }
        i64::try_from(value)
            .map(|value| value as u64)
            .map_err(|_| self.error_at(column, format!("{value} does not fit in 64 bits")))
    }

    fn fit<T: TryFrom<i64>>(
        &self,
        (value, column): (i64, usize),
        what: &str,
    ) -> Result<T, AsmError> {
        T::try_from(value)
            .map_err(|_| self.error_at(column, format!("{what} {value} is out of range")))
    }

    /// `pc+3`, `pc-1` or a label.
    fn jump_target(&mut self) -> Result<Target, AsmError> {
        let reference = self.reference()?;
        if reference.name != "pc" {
            return Ok(Target::Label(reference));
        }
        let column = reference.column;
        let negative = if self.eat_punct("-") {
            true
        } else {
            self.expect_punct("+")?;
            false
        };
        match self.peek() {
            Some(TokenKind::Number(value)) => {
                let value =
                    i64::try_from(*value).map_err(|_| self.error_here("offset out of range"))?;
                self.advance();
                Ok(Target::Relative(
                    if negative { -value } else { value },
                    column,
                ))
            }
            _ => Err(self.error_here("expected an offset after `pc`")),
        }
    }

    /// `(u64 *)` or `(s16 *)`; returns the size and whether it is signed.
    fn pointer_type(&mut self) -> Result<(Size, bool), AsmError> {
        self.expect_punct("(")?;
        let column = self.column();
        let name = self.ident()?;
        let found = Size::ALL.into_iter().find_map(|size| {
            if size_name(size) == name {
                Some((size, false))
            } else if signed_size_name(size) == name && size != Size::DW {
                Some((size, true))
            } else {
                None
            }
        });
        let found = found.ok_or_else(|| self.error_at(column, format!("unknown type `{name}`")))?;
        self.expect_punct("*")?;
        self.expect_punct(")")?;
        Ok(found)
    }

    /// `(r10 -8)`, `(r1 +0)` or `(r1)`.
    fn address(&mut self) -> Result<(Reg, i16), AsmError> {
        self.expect_punct("(")?;
        let (reg, width) = self.register()?;
        if width != Width::W64 {
            return Err(self.error_here("addresses use 64-bit registers"));
        }
        let off = if self.eat_punct(")") {
            return Ok((reg, 0));
        } else {
            let column = self.column();
            let negative = if self.eat_punct("-") {
                true
            } else {
                self.expect_punct("+")?;
                false
            };
            let value = match self.peek() {
                Some(TokenKind::Number(value)) => i128::from(*value),
                _ => return Err(self.error_here("expected an offset")),
            };
            self.advance();
            let value = if negative { -value } else { value };
            i16::try_from(value).map_err(|_| {
                self.error_at(column, format!("offset {value} does not fit in 16 bits"))
            })?
        };
        self.expect_punct(")")?;
        Ok((reg, off))
    }

    /// `[name:N]`, returning N.
    fn bracket_field(&mut self, name: &str) -> Result<i32, AsmError> {
        self.expect_punct("[")?;
        self.expect_ident(name)?;
        self.expect_punct(":")?;
        let value = self.imm32()?;
        self.expect_punct("]")?;
        Ok(value)
    }

    /// After `map`: `[fd:N]`, `[id:N]`, `[idx:N]`, each optionally `[0]+OFF`.
    fn map_bracket(&mut self) -> Result<Imm64, AsmError> {
        self.expect_punct("[")?;
        let column = self.column();
        let kind = self.ident()?;
        self.expect_punct(":")?;
        let number = self.imm32()?;
        self.expect_punct("]")?;
        let offset = if self.eat_punct("[") {
            let zero_column = self.column();
            if self.signed_number()? != 0 {
                return Err(self.error_at(zero_column, "map values are addressed as [0]+OFFSET"));
            }
            self.expect_punct("]")?;
            self.expect_punct("+")?;
            Some(self.imm32()?)
        } else {
            None
        };
        Ok(match (kind.as_str(), offset) {
            ("fd" | "id", None) => Imm64::MapFd(number),
            ("fd" | "id", Some(offset)) => Imm64::MapValue { fd: number, offset },
            ("idx", None) => Imm64::MapIdx(number),
            ("idx", Some(offset)) => Imm64::MapIdxValue {
                index: number,
                offset,
            },
            _ => return Err(self.error_at(column, format!("unknown map reference `{kind}`"))),
        })
    }
}

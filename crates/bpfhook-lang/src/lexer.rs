//! Tokens of the bpftrace language. The lexer is pulled by the parser one token at a time,
//! because one construct needs a mode of its own: an attach point (`uprobe:/bin/bash:readline`,
//! `kprobe:vfs_read+16`) is read as one raw word where the parser expects a probe.
//!
//! Trivia: `//` and `/* */` comments, whitespace, a `#!` first line, and `#include` lines
//! (with [`Lexer::with_headers`] the header is read for its constants, see [`crate::headers`];
//! otherwise skipped). `#define NAME VALUE` makes NAME stand for VALUE's tokens, and so does a
//! constant of a header included so far; any other preprocessor directive (`#ifdef`, a
//! function-like `#define`…) is an error: ignoring it would leave its names silently undefined.

use std::collections::HashMap;

use crate::diag::{Diagnostic, Span};
use crate::headers::{self, Headers};

#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub kind: TokenKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TokenKind {
    /// A bare word: builtins, keywords, type names, function names.
    Ident(String),
    /// `$name` (without the `$`).
    Variable(String),
    /// `$1`.
    Positional(u32),
    /// `$#`.
    PositionalCount,
    /// `@name` or `@` (without the `@`).
    Map(String),
    Integer {
        value: u64,
        suffix: Option<String>,
    },
    /// Escapes decoded.
    String(String),
    Punct(Punct),
    Eof,
}

impl TokenKind {
    /// How a syntax error names the token (bpftrace's wording).
    pub fn describe(&self) -> String {
        match self {
            TokenKind::Ident(name) => format!("identifier {name}"),
            TokenKind::Variable(name) => format!("variable ${name}"),
            TokenKind::Positional(n) => format!("positional parameter ${n}"),
            TokenKind::PositionalCount => "$#".to_string(),
            TokenKind::Map(name) => format!("map @{name}"),
            TokenKind::Integer { .. } => "integer".to_string(),
            TokenKind::String(_) => "string".to_string(),
            TokenKind::Punct(p) => p.text().to_string(),
            TokenKind::Eof => "end of file".to_string(),
        }
    }
}

macro_rules! puncts {
    ($($name:ident => $text:literal,)*) => {
        /// Operators and delimiters.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Punct { $($name,)* }

        impl Punct {
            pub fn text(self) -> &'static str {
                match self { $(Punct::$name => $text,)* }
            }
        }

        /// In declaration order, which is longest first, so `<<=` wins over `<<` and `<`.
        const PUNCTS_LONGEST_FIRST: &[(Punct, &[u8])] = &[$((Punct::$name, $text.as_bytes()),)*];
    };
}

puncts! {
    ShlAssign => "<<=",
    ShrAssign => ">>=",
    Arrow => "->",
    DotDot => "..",
    Eq => "==",
    Ne => "!=",
    Le => "<=",
    Ge => ">=",
    Shl => "<<",
    Shr => ">>",
    AndAnd => "&&",
    OrOr => "||",
    PlusPlus => "++",
    MinusMinus => "--",
    PlusAssign => "+=",
    MinusAssign => "-=",
    StarAssign => "*=",
    SlashAssign => "/=",
    PercentAssign => "%=",
    AmpAssign => "&=",
    PipeAssign => "|=",
    CaretAssign => "^=",
    LBrace => "{",
    RBrace => "}",
    LParen => "(",
    RParen => ")",
    LBracket => "[",
    RBracket => "]",
    Semi => ";",
    Comma => ",",
    Colon => ":",
    Dot => ".",
    Question => "?",
    Assign => "=",
    Lt => "<",
    Gt => ">",
    Plus => "+",
    Minus => "-",
    Star => "*",
    Slash => "/",
    Percent => "%",
    Amp => "&",
    Pipe => "|",
    Caret => "^",
    Tilde => "~",
    Bang => "!",
}

/// A header's constant as tokens: the integer, a negative one as `(-N)`.
fn constant_tokens(value: i128) -> Vec<TokenKind> {
    let integer = TokenKind::Integer {
        value: value.unsigned_abs() as u64,
        suffix: None,
    };
    if value >= 0 {
        return vec![integer];
    }
    vec![
        TokenKind::Punct(Punct::LParen),
        TokenKind::Punct(Punct::Minus),
        integer,
        TokenKind::Punct(Punct::RParen),
    ]
}

/// Integer suffixes we keep: C's width/sign markers and bpftrace's time units.
const INTEGER_SUFFIXES: &[&str] = &[
    "u", "l", "ul", "lu", "ll", "ull", "llu", "U", "L", "UL", "LU", "LL", "ULL", "LLU", "ns", "us",
    "ms", "s", "m", "h", "d",
];

type Result<T> = std::result::Result<T, Diagnostic>;

#[derive(Clone)]
pub struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    /// `#define NAME VALUE` so far: what NAME stands for, as tokens.
    defines: HashMap<String, Vec<TokenKind>>,
    /// The rest of a define being expanded, last token first.
    expansion: Vec<Token>,
    /// Where `#include` reads headers (none: includes are skipped).
    headers: Option<&'a Headers>,
    /// `#include` and `#define` lines so far: bpftrace hands them to clang as the lines of
    /// `definitions.h`, after one line of its own, and clang's errors count them so.
    c_statements: usize,
}

impl<'a> Lexer<'a> {
    pub fn new(src: &'a str) -> Self {
        Self {
            src,
            pos: 0,
            defines: HashMap::new(),
            expansion: Vec::new(),
            headers: None,
            c_statements: 0,
        }
    }

    /// A lexer whose `#include` lines read headers into `headers`, their constants usable
    /// after the line as `#define`d names are.
    pub fn with_headers(src: &'a str, headers: &'a Headers) -> Self {
        Self {
            headers: Some(headers),
            ..Self::new(src)
        }
    }

    /// The byte offset the next token is read from.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Go back to an offset handed out by [`Lexer::position`] or a token's span.
    pub fn reset(&mut self, pos: usize) {
        self.pos = pos.min(self.src.len());
    }

    /// The word (`[A-Za-z0-9_]*`) the next token starts with and the byte right after it,
    /// consuming nothing but trivia: how the parser tells a declaration from a probe.
    pub fn peek_word(&mut self) -> Result<(&'a str, Option<u8>)> {
        self.skip_trivia()?;
        let rest = self.rest();
        let len = word_len(rest);
        Ok((&rest[..len], rest.as_bytes().get(len).copied()))
    }

    fn peek_byte(&self, ahead: usize) -> Option<u8> {
        self.src.as_bytes().get(self.pos + ahead).copied()
    }

    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    /// Skips whitespace, comments and `#include` lines; the next byte (if any) starts a token.
    pub fn skip_trivia(&mut self) -> Result<()> {
        loop {
            let rest = self.rest();
            let Some(c) = rest.chars().next() else {
                return Ok(());
            };
            if c.is_whitespace() {
                self.pos += c.len_utf8();
            } else if rest.starts_with("//") {
                self.pos += rest.find('\n').unwrap_or(rest.len());
            } else if let Some(body) = rest.strip_prefix("/*") {
                let Some(end) = body.find("*/") else {
                    return Err(Diagnostic::error(
                        Span::new(self.pos, self.pos + 2),
                        "unterminated comment",
                    ));
                };
                self.pos += end + 4;
            } else if c == '#' && self.at_line_start() {
                self.skip_directive()?;
            } else {
                return Ok(());
            }
        }
    }

    fn at_line_start(&self) -> bool {
        let before = &self.src[..self.pos];
        let line = before.rfind('\n').map_or(before, |i| &before[i + 1..]);
        line.chars().all(char::is_whitespace)
    }

    fn skip_directive(&mut self) -> Result<()> {
        let rest = self.rest();
        let line = &rest[..rest.find('\n').unwrap_or(rest.len())];
        let directive = line[1..].trim_start();
        let word_len = directive
            .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .unwrap_or(directive.len());
        let word = &directive[..word_len];
        let shebang = self.pos == 0 && line.starts_with("#!");
        if word == "define" || word == "include" {
            self.c_statements += 1;
        }
        if word == "define" {
            self.define(line, directive[word_len..].trim())?;
        } else if word == "include" {
            self.include(line)?;
        } else if !shebang {
            let start = self.pos;
            let end = start + line.trim_end().len();
            return Err(Diagnostic::error(
                Span::new(start, end),
                format!("preprocessor directive #{word} is not supported"),
            ));
        }
        self.pos += line.len();
        Ok(())
    }

    /// `#include <x>` or `"x"`: the header's constants, or bpftrace's error (clang's line
    /// about `definitions.h`) when it exists nowhere.
    fn include(&mut self, line: &str) -> Result<()> {
        let Some(headers) = self.headers else {
            return Ok(());
        };
        let after_word = line.find("include").map_or(0, |i| i + "include".len());
        let target = line[after_word..].trim_start();
        let column = line.len() - target.len();
        let start = self.pos + column;
        let Some((name, quoted)) = headers::include_target(target.trim_end()) else {
            return Err(Diagnostic::error(
                Span::new(start, self.pos + line.trim_end().len()),
                "#include expects \"FILENAME\" or <FILENAME>",
            ));
        };
        headers
            .include_from_script(name, quoted)
            .map_err(|missing| {
                let span = Span::new(start, start + name.len() + 2);
                let clang = format!(
                    "definitions.h:{}:{}: fatal error: {missing}",
                    self.c_statements + 1,
                    line[..column].chars().count() + 1
                );
                Diagnostic::error(span, missing.to_string()).with_preamble(clang)
            })
    }

    /// `#define NAME VALUE` (object-like, as scripts use it for constants): NAME stands for
    /// VALUE's tokens from here on.
    fn define(&mut self, line: &str, definition: &str) -> Result<()> {
        let span = Span::new(self.pos, self.pos + line.trim_end().len());
        let name_len = definition
            .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .unwrap_or(definition.len());
        let (name, value) = definition.split_at(name_len);
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(Diagnostic::error(span, "#define needs a name"));
        }
        if value.starts_with('(') {
            return Err(Diagnostic::error(
                span,
                "function-like #define is not supported (use a macro)",
            ));
        }
        let mut inner = Lexer::new(value);
        inner.defines = self.defines.clone();
        inner.headers = self.headers;
        let mut tokens = Vec::new();
        loop {
            let token = inner
                .next_token()
                .map_err(|e| Diagnostic::error(span, e.message))?;
            if token.kind == TokenKind::Eof {
                break;
            }
            tokens.push(token.kind);
        }
        self.defines.insert(name.to_owned(), tokens);
        Ok(())
    }

    /// Reads one attach point as written, up to whitespace, `{`, `,` or the `/` of a
    /// predicate. Quoted parts (`uprobe:"/a b":f`) are kept with their quotes. A `/` belongs
    /// to the attach point when a `:` follows before the word ends (a path is always followed
    /// by the function: `uprobe:/bin/bash:readline`, `uprobe:lib/x.so:f`); otherwise it starts
    /// the predicate (`kprobe:f/pid == 1/`).
    pub fn attach_point(&mut self) -> Result<(String, Span)> {
        self.skip_trivia()?;
        let start = self.pos;
        let bytes = self.src.as_bytes();
        let mut i = start;
        while i < bytes.len() {
            match bytes[i] {
                b'"' => {
                    let Some(close) = self.src[i + 1..].find('"') else {
                        return Err(Diagnostic::error(
                            Span::new(i, self.line_end(i)),
                            "unterminated string",
                        ));
                    };
                    i += close + 2;
                }
                b'{' | b',' | b'}' | b';' => break,
                b'/' if !path_continues(&bytes[i..]) => break,
                c if c.is_ascii_whitespace() => break,
                _ => i += 1,
            }
        }
        if i == start {
            let token = self.next_token()?;
            return Err(Diagnostic::error(
                token.span,
                format!(
                    "syntax error, unexpected {}, expecting attach point",
                    token.kind.describe()
                ),
            ));
        }
        self.pos = i;
        Ok((self.src[start..i].to_string(), Span::new(start, i)))
    }

    fn line_end(&self, from: usize) -> usize {
        self.src[from..]
            .find('\n')
            .map_or(self.src.len(), |i| from + i)
    }

    pub fn next_token(&mut self) -> Result<Token> {
        if let Some(token) = self.expansion.pop() {
            return Ok(token);
        }
        let token = self.read_token()?;
        // A defined name is its value's tokens, each placed where the name is.
        if let TokenKind::Ident(word) = &token.kind {
            let value = match self.defines.get(word) {
                Some(value) => Some(value.clone()),
                None => self
                    .headers
                    .and_then(|h| h.constant(word))
                    .map(constant_tokens),
            };
            if let Some(value) = value {
                self.expansion = value
                    .into_iter()
                    .rev()
                    .map(|kind| Token {
                        kind,
                        span: token.span,
                    })
                    .collect();
                return self.next_token();
            }
        }
        Ok(token)
    }

    fn read_token(&mut self) -> Result<Token> {
        self.skip_trivia()?;
        let start = self.pos;
        let Some(c) = self.rest().chars().next() else {
            return Ok(Token {
                kind: TokenKind::Eof,
                span: Span::new(start, start),
            });
        };
        let kind = match c {
            '"' => TokenKind::String(self.string()?),
            '0'..='9' => self.integer()?,
            '$' => self.dollar()?,
            '@' => {
                self.pos += 1;
                TokenKind::Map(self.word().to_string())
            }
            c if c.is_ascii_alphabetic() || c == '_' => TokenKind::Ident(self.word().to_string()),
            _ => match punct_at(self.rest().as_bytes()) {
                Some(p) => {
                    self.pos += p.text().len();
                    TokenKind::Punct(p)
                }
                None => {
                    return Err(Diagnostic::error(
                        Span::new(start, start + c.len_utf8()),
                        format!("invalid character '{c}'"),
                    ))
                }
            },
        };
        Ok(Token {
            kind,
            span: Span::new(start, self.pos),
        })
    }

    /// `[A-Za-z0-9_]*` from the current position.
    fn word(&mut self) -> &'a str {
        let rest = self.rest();
        let len = word_len(rest);
        self.pos += len;
        &rest[..len]
    }

    fn dollar(&mut self) -> Result<TokenKind> {
        let start = self.pos;
        self.pos += 1;
        if self.peek_byte(0) == Some(b'#') {
            self.pos += 1;
            return Ok(TokenKind::PositionalCount);
        }
        let word = self.word();
        if word.is_empty() {
            return Err(Diagnostic::error(
                Span::new(start, start + 1),
                "expected a variable name after $",
            ));
        }
        if word.as_bytes()[0].is_ascii_digit() {
            return word.parse().map(TokenKind::Positional).map_err(|_| {
                Diagnostic::error(Span::new(start, self.pos), "invalid positional parameter")
            });
        }
        Ok(TokenKind::Variable(word.to_string()))
    }

    /// Decimal, `0x` hex, `0b` binary, `0o` or leading-`0` octal, `_` separators, `1e6`
    /// exponents, then an optional suffix from [`INTEGER_SUFFIXES`].
    fn integer(&mut self) -> Result<TokenKind> {
        let start = self.pos;
        let text = self.word();
        let span = Span::new(start, self.pos);
        let lower = text.to_ascii_lowercase();
        let (radix, body) = if let Some(b) = lower.strip_prefix("0x") {
            (16, b)
        } else if let Some(b) = lower.strip_prefix("0b") {
            (2, b)
        } else if let Some(b) = lower.strip_prefix("0o") {
            (8, b)
        } else if lower.len() > 1 && lower.starts_with('0') && lower.as_bytes()[1].is_ascii_digit()
        {
            (8, &lower[1..])
        } else {
            (10, lower.as_str())
        };
        let prefix_len = text.len() - body.len();
        let digits_len = body
            .find(|c: char| !(c.is_digit(radix) || c == '_'))
            .unwrap_or(body.len());
        let digits = &body[..digits_len];
        let mut after = &text[prefix_len + digits_len..];
        if after.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(Diagnostic::error(
                span,
                format!("invalid digit in integer: {text}"),
            ));
        }
        if digits.is_empty() || digits.starts_with('_') {
            return Err(Diagnostic::error(span, format!("invalid integer: {text}")));
        }
        let mut value = digits_value(digits, radix)
            .ok_or_else(|| Diagnostic::error(span, format!("integer out of range: {text}")))?;
        if radix == 10 {
            if let Some(exp) = exponent_digits(after) {
                let power: u32 = exp.parse().map_err(|_| {
                    Diagnostic::error(span, format!("integer out of range: {text}"))
                })?;
                value = 10u64
                    .checked_pow(power)
                    .and_then(|p| value.checked_mul(p))
                    .ok_or_else(|| {
                        Diagnostic::error(span, format!("integer out of range: {text}"))
                    })?;
                after = &after[1 + exp.len()..];
            }
        }
        let suffix = match after {
            "" => None,
            s if INTEGER_SUFFIXES.contains(&s) => Some(s.to_string()),
            s => {
                return Err(Diagnostic::error(
                    span,
                    format!("invalid integer suffix: {s}"),
                ))
            }
        };
        Ok(TokenKind::Integer { value, suffix })
    }

    fn string(&mut self) -> Result<String> {
        let open = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.rest().chars().next() else {
                return Err(Diagnostic::error(
                    Span::new(open, self.line_end(open)),
                    "unterminated string",
                ));
            };
            let at = self.pos;
            self.pos += c.len_utf8();
            match c {
                '"' => return Ok(out),
                '\\' => out.push(self.escape(at)?),
                c => out.push(c),
            }
        }
    }

    /// The character after a `\` at `backslash`.
    fn escape(&mut self, backslash: usize) -> Result<char> {
        let Some(c) = self.rest().chars().next() else {
            return Err(Diagnostic::error(
                Span::new(backslash, backslash + 1),
                "unterminated string",
            ));
        };
        self.pos += c.len_utf8();
        let simple = match c {
            'n' => Some('\n'),
            't' => Some('\t'),
            'r' => Some('\r'),
            '\\' => Some('\\'),
            '"' => Some('"'),
            '\'' => Some('\''),
            _ => None,
        };
        if let Some(s) = simple {
            return Ok(s);
        }
        let (radix, max_digits, first) = match c {
            'x' => (16, 2, self.pos),
            '0'..='7' => (8, 3, self.pos - 1),
            _ => {
                return Err(Diagnostic::error(
                    Span::new(backslash, self.pos),
                    format!("invalid escape sequence \\{c}"),
                ))
            }
        };
        let digits_len = self.src.as_bytes()[first..]
            .iter()
            .take(max_digits)
            .take_while(|b| (**b as char).is_digit(radix))
            .count();
        let digits = &self.src[first..first + digits_len];
        self.pos = first + digits_len;
        let span = Span::new(backslash, self.pos);
        let value = u32::from_str_radix(digits, radix)
            .map_err(|_| Diagnostic::error(span, "invalid escape sequence: no digits"))?;
        // Strings are UTF-8 text here; a byte above 0x7f has no character of its own.
        if value > 0x7f {
            return Err(Diagnostic::error(
                span,
                "escape sequence above \\x7f is not supported",
            ));
        }
        Ok(char::from(value as u8))
    }
}

/// The operator `text` starts with, longest first; the first byte is compared before any
/// slice comparison (this lookup is most of the lexer's time otherwise).
fn punct_at(text: &[u8]) -> Option<Punct> {
    let first = *text.first()?;
    PUNCTS_LONGEST_FIRST
        .iter()
        .find(|(_, candidate)| candidate[0] == first && text.starts_with(candidate))
        .map(|&(p, _)| p)
}

fn word_len(text: &str) -> usize {
    text.find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .unwrap_or(text.len())
}

/// Whether the `/` at the start of `from` is inside a path: a `:` follows before the word ends.
fn path_continues(from: &[u8]) -> bool {
    from.iter()
        .skip(1)
        .take_while(|b| !b.is_ascii_whitespace() && !matches!(b, b'{' | b',' | b'}' | b';'))
        .any(|&b| b == b':')
}

fn digits_value(digits: &str, radix: u32) -> Option<u64> {
    digits
        .bytes()
        .filter(|&b| b != b'_')
        .try_fold(0u64, |acc, b| {
            let d = (b as char).to_digit(radix)?;
            acc.checked_mul(u64::from(radix))?.checked_add(u64::from(d))
        })
}

/// The digits of an `e6` exponent at the start of `after`, if it is one.
fn exponent_digits(after: &str) -> Option<&str> {
    let rest = after.strip_prefix(['e', 'E'])?;
    let len = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    (len > 0).then(|| &rest[..len])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<TokenKind> {
        kinds_of(Lexer::new(src))
    }

    fn kinds_of(mut lexer: Lexer) -> Vec<TokenKind> {
        let mut out = Vec::new();
        loop {
            let token = lexer.next_token().expect("lexes");
            if token.kind == TokenKind::Eof {
                return out;
            }
            out.push(token.kind);
        }
    }

    fn int(value: u64) -> TokenKind {
        TokenKind::Integer {
            value,
            suffix: None,
        }
    }

    fn error(src: &str) -> Diagnostic {
        error_of(Lexer::new(src), src)
    }

    fn error_of(mut lexer: Lexer, src: &str) -> Diagnostic {
        loop {
            match lexer.next_token() {
                Err(e) => return e,
                Ok(t) if t.kind == TokenKind::Eof => panic!("no error in {src:?}"),
                Ok(_) => {}
            }
        }
    }

    #[test]
    fn integers_in_every_base() {
        assert_eq!(
            kinds("10 0x1f 0o17 017 0b101 1_000_000 1e6 0 18446744073709551615"),
            [10, 31, 15, 15, 5, 1_000_000, 1_000_000, 0, u64::MAX].map(int)
        );
    }

    #[test]
    fn integer_suffixes() {
        assert_eq!(
            kinds("100ms 5ull 1s"),
            [("ms", 100), ("ull", 5), ("s", 1)].map(|(s, value)| TokenKind::Integer {
                value,
                suffix: Some(s.to_string())
            })
        );
    }

    #[test]
    fn bad_integers_point_at_the_number() {
        let e = error("x = 18446744073709551616;");
        assert_eq!(
            (e.span, e.message.as_str()),
            (
                Span::new(4, 24),
                "integer out of range: 18446744073709551616"
            )
        );
        assert_eq!(error("09").message, "invalid digit in integer: 09");
        assert_eq!(error("12abc").message, "invalid integer suffix: abc");
        assert_eq!(error("1e30").message, "integer out of range: 1e30");
        assert_eq!(error("0x").message, "invalid integer: 0x");
    }

    #[test]
    fn string_escapes() {
        assert_eq!(
            kinds(r#""a\n\t\r\\\"\'\0\x41\101\1b""#),
            [TokenKind::String("a\n\t\r\\\"'\0AA\u{1}b".to_string())]
        );
    }

    #[test]
    fn string_errors_point_at_the_characters() {
        let e = error("  \"abc\\q\"");
        assert_eq!(
            (e.span, e.message.as_str()),
            (Span::new(6, 8), "invalid escape sequence \\q")
        );
        let e = error("x \"abc\ny");
        assert_eq!(
            (e.span, e.message.as_str()),
            (Span::new(2, 6), "unterminated string")
        );
        assert_eq!(
            error("\"\\xff\"").message,
            "escape sequence above \\x7f is not supported"
        );
    }

    #[test]
    fn sigils_and_tuple_indices() {
        assert_eq!(
            kinds("$x $1 $# @m @ $t.3.1"),
            [
                TokenKind::Variable("x".into()),
                TokenKind::Positional(1),
                TokenKind::PositionalCount,
                TokenKind::Map("m".into()),
                TokenKind::Map(String::new()),
                TokenKind::Variable("t".into()),
                TokenKind::Punct(Punct::Dot),
                int(3),
                TokenKind::Punct(Punct::Dot),
                int(1),
            ]
        );
    }

    #[test]
    fn longest_operator_wins() {
        assert_eq!(
            kinds("<<= << <= < ->..-- -"),
            [
                Punct::ShlAssign,
                Punct::Shl,
                Punct::Le,
                Punct::Lt,
                Punct::Arrow,
                Punct::DotDot,
                Punct::MinusMinus,
                Punct::Minus
            ]
            .map(TokenKind::Punct)
        );
    }

    #[test]
    fn defines_stand_for_their_tokens_where_they_are_used() {
        let source = "#define N 314\n#define M (N + 1)\nN M NN \"N\"";
        assert_eq!(
            kinds(source),
            [
                int(314),
                TokenKind::Punct(Punct::LParen),
                int(314),
                TokenKind::Punct(Punct::Plus),
                int(1),
                TokenKind::Punct(Punct::RParen),
                TokenKind::Ident("NN".into()),
                TokenKind::String("N".into()),
            ]
        );
    }

    #[test]
    fn comments_and_includes_are_skipped() {
        assert_eq!(
            kinds("#include <linux/sched.h>\n// one\n/* two\n */ x"),
            [TokenKind::Ident("x".into())]
        );
        let e = error("begin\n#ifdef X\n");
        assert_eq!(
            (e.span, e.message.as_str()),
            (
                Span::new(6, 14),
                "preprocessor directive #ifdef is not supported"
            )
        );
        assert!(error("#define F(x) x\n").message.contains("function-like"));
        assert_eq!(error("/* open").message, "unterminated comment");
        assert_eq!(error("a ` b").message, "invalid character '`'");
    }

    fn headers_with(name: &str, text: &str) -> (bpfhook_testkit::TempPath, Headers) {
        let dir = bpfhook_testkit::TempPath::dir("bpfhook-headers");
        crate::testutil::write_file(&dir, name, text);
        let headers = Headers::new(&headers::IncludeOptions {
            dirs: vec![dir.path().to_owned()],
            ..Default::default()
        });
        (dir, headers)
    }

    #[test]
    fn header_constants_stand_for_their_values_after_the_include() {
        let (_dir, headers) = headers_with("c.h", "#define POS (1 << 4)\n#define NEG (-3)\n");
        let source = "POS\n#include <c.h>\n#define BOTH (POS + NEG)\nPOS NEG BOTH";
        let ident = |s: &str| TokenKind::Ident(s.into());
        let punct = TokenKind::Punct;
        assert_eq!(
            kinds_of(Lexer::with_headers(source, &headers)),
            [
                ident("POS"),
                int(16),
                punct(Punct::LParen),
                punct(Punct::Minus),
                int(3),
                punct(Punct::RParen),
                punct(Punct::LParen),
                int(16),
                punct(Punct::Plus),
                punct(Punct::LParen),
                punct(Punct::Minus),
                int(3),
                punct(Punct::RParen),
                punct(Punct::RParen),
            ]
        );
    }

    #[test]
    fn a_missing_header_is_clangs_error_about_definitions_h_and_ours_at_the_line() {
        let (_dir, headers) = headers_with("c.h", "#define X 1\n");
        let source = "#define A 1\n#include <c.h>\n  #include   <lol/no.h>\nbegin {}";
        let e = error_of(Lexer::with_headers(source, &headers), source);
        assert_eq!(e.message, "'lol/no.h' file not found");
        assert_eq!(
            &source[e.span.start as usize..e.span.end as usize],
            "<lol/no.h>"
        );
        // bpftrace's definitions.h: one line of its own, then each directive on its line.
        assert_eq!(
            e.preamble.as_deref(),
            Some("definitions.h:4:12: fatal error: 'lol/no.h' file not found")
        );
        let source = "#include lol.h\n";
        let e = error_of(Lexer::with_headers(source, &headers), source);
        assert_eq!(e.message, "#include expects \"FILENAME\" or <FILENAME>");
        // Without headers (`-l`), includes are skipped as before.
        assert_eq!(
            kinds("#include <lol/no.h>\nx"),
            [TokenKind::Ident("x".into())]
        );
    }

    fn attach_points(src: &str) -> Vec<String> {
        let mut lexer = Lexer::new(src);
        let mut out = Vec::new();
        loop {
            out.push(lexer.attach_point().expect("attach point").0);
            match lexer.next_token().expect("token").kind {
                TokenKind::Punct(Punct::Comma) => {}
                _ => return out,
            }
        }
    }

    #[test]
    fn attach_points_are_one_word() {
        assert_eq!(
            attach_points("uprobe:/bin/bash:readline,u:./t/x:f* ,\n kprobe:vfs_read+16 {"),
            [
                "uprobe:/bin/bash:readline",
                "u:./t/x:f*",
                "kprobe:vfs_read+16"
            ]
        );
        assert_eq!(
            attach_points("uretprobe:\"/a b\":f{"),
            ["uretprobe:\"/a b\":f"]
        );
        assert_eq!(
            attach_points("uprobe:lib/x.so:f /pid/"),
            ["uprobe:lib/x.so:f"]
        );
    }

    #[test]
    fn a_slash_without_a_path_starts_the_predicate() {
        let mut lexer = Lexer::new("kprobe:f/pid == 1/ {}");
        assert_eq!(lexer.attach_point().expect("attach point").0, "kprobe:f");
        assert_eq!(
            lexer.next_token().expect("token").kind,
            TokenKind::Punct(Punct::Slash)
        );
    }
}

//! C headers read for their constants, without a compiler: types come from the kernel's BTF,
//! but scripts also name constants headers define (`__NR_nanosleep` from `<syscall.h>`,
//! `EPERM` from `<errno.h>`).
//!
//! A header is found as a C compiler finds it: `#include "x"` in the including file's
//! directory first (the script's, for the script), then `-I` directories, `/usr/local/include`,
//! `/usr/include/<multiarch>` and `/usr/include`. Its directives are followed: nested includes
//! (each file read once, at most [`MAX_DEPTH`] deep; one that exists nowhere is skipped),
//! `#define` and `#undef`. Everything else — C code, `#pragma`, `#error`, `#include_next`,
//! computed includes — is skipped quietly.
//!
//! Every object-like `#define` is kept as text; a name is a constant when its body expands
//! (as the preprocessor expands it: other object-like macros, no function-like ones) to an
//! integer constant expression, evaluated with C's int/long and signed/unsigned types
//! (`(~0U)` is 4294967295). Bodies that are anything else (`((void *)0)`, casts, strings) make
//! no constant, and names using them neither.
//!
//! Conditionals: `#ifdef`/`#ifndef` ask whether the name is defined so far; `#if`/`#elif`
//! evaluate as C does (`defined X`, an unknown name is 0), over the macros so far and a small
//! set of the compiler's predefined ones ([`PREDEFINED`]: the target's architecture, `__linux__`,
//! type sizes; not `__GNUC__`, so glibc takes its portable paths). A condition that cannot be
//! evaluated (a function-like macro or `__has_include(…)` where its value matters) takes no
//! branch of its group, `#else` included: names stay missing rather than wrong.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// Includes nested deeper than this are skipped (system headers nest about ten deep).
pub const MAX_DEPTH: usize = 40;

/// Expansion of one name through more macros than this is no constant (a cycle).
const MAX_EXPANSION: usize = 64;

/// An expansion longer than this is no constant (macros doubling at each level).
const MAX_TOKENS: usize = 10_000;

/// Parentheses and unary operators nested deeper than this make no constant (the stack; C
/// asks compilers for 63).
const MAX_NESTING: usize = 64;

/// The compiler's predefined macros that headers test, as clang defines them for this target.
pub const PREDEFINED: &[(&str, &str)] = &[
    ("__linux__", "1"),
    ("__linux", "1"),
    ("__gnu_linux__", "1"),
    ("__unix__", "1"),
    ("__unix", "1"),
    ("__ELF__", "1"),
    ("__STDC__", "1"),
    ("__STDC_VERSION__", "201710L"),
    ("__STDC_HOSTED__", "1"),
    ("__LP64__", "1"),
    ("_LP64", "1"),
    ("__CHAR_BIT__", "8"),
    ("__SIZEOF_SHORT__", "2"),
    ("__SIZEOF_INT__", "4"),
    ("__SIZEOF_LONG__", "8"),
    ("__SIZEOF_LONG_LONG__", "8"),
    ("__SIZEOF_POINTER__", "8"),
    ("__SCHAR_MAX__", "0x7f"),
    ("__SHRT_MAX__", "0x7fff"),
    ("__INT_MAX__", "0x7fffffff"),
    ("__LONG_MAX__", "0x7fffffffffffffffL"),
    ("__LONG_LONG_MAX__", "0x7fffffffffffffffLL"),
    ("__ORDER_LITTLE_ENDIAN__", "1234"),
    ("__ORDER_BIG_ENDIAN__", "4321"),
    #[cfg(target_endian = "little")]
    ("__BYTE_ORDER__", "__ORDER_LITTLE_ENDIAN__"),
    #[cfg(target_endian = "big")]
    ("__BYTE_ORDER__", "__ORDER_BIG_ENDIAN__"),
    #[cfg(target_arch = "x86_64")]
    ("__x86_64__", "1"),
    #[cfg(target_arch = "x86_64")]
    ("__x86_64", "1"),
    #[cfg(target_arch = "x86_64")]
    ("__amd64__", "1"),
    #[cfg(target_arch = "x86_64")]
    ("__amd64", "1"),
    #[cfg(target_arch = "aarch64")]
    ("__aarch64__", "1"),
];

/// Where headers are found and which ones the command line adds.
#[derive(Debug, Clone, Default)]
pub struct IncludeOptions {
    /// `-I DIR`: searched before the system directories.
    pub dirs: Vec<PathBuf>,
    /// `--include FILE`: read before the script's own includes, in order.
    pub files: Vec<String>,
    /// Where the script's `#include "x"` looks first: its file's directory (none: the
    /// current directory, for `-e` and standard input).
    pub script_dir: Option<PathBuf>,
}

/// A header that exists in no directory searched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' file not found")]
pub struct NotFound(pub String);

/// The headers of one compile: the macros they define so far and the files already read.
pub struct Headers {
    search: Vec<PathBuf>,
    script_dir: PathBuf,
    state: RefCell<State>,
}

struct State {
    macros: HashMap<String, Macro>,
    read: HashSet<PathBuf>,
}

enum Macro {
    /// Object-like: the body's text.
    Object(String),
    /// Function-like: defined (for `#ifdef`), never a constant.
    Function,
}

impl Headers {
    pub fn new(options: &IncludeOptions) -> Self {
        let multiarch = format!("/usr/include/{}-linux-gnu", std::env::consts::ARCH);
        let system = ["/usr/local/include", multiarch.as_str(), "/usr/include"];
        let search = options
            .dirs
            .iter()
            .cloned()
            .chain(system.iter().map(PathBuf::from))
            .collect();
        let macros = PREDEFINED
            .iter()
            .map(|(name, body)| (name.to_string(), Macro::Object(body.to_string())))
            .collect();
        Self {
            search,
            script_dir: options
                .script_dir
                .clone()
                .unwrap_or_else(|| PathBuf::from(".")),
            state: RefCell::new(State {
                macros,
                read: HashSet::new(),
            }),
        }
    }

    /// `--include FILE` of the command line, each looked up as `#include "FILE"` from the
    /// current directory (clang's `-include`).
    pub fn include_command_line(&self, files: &[String]) -> Result<(), NotFound> {
        for file in files {
            let path = self
                .find(file, Some(Path::new(".")))
                .ok_or_else(|| NotFound(file.clone()))?;
            self.read(&path, 0);
        }
        Ok(())
    }

    /// The script's `#include <name>` (or `"name"`, when `quoted`).
    pub fn include_from_script(&self, name: &str, quoted: bool) -> Result<(), NotFound> {
        let from = quoted.then_some(self.script_dir.as_path());
        let path = self
            .find(name, from)
            .ok_or_else(|| NotFound(name.to_owned()))?;
        self.read(&path, 0);
        Ok(())
    }

    /// What `name` stands for when the headers define it as an integer constant: its value
    /// as C types it (an unsigned type's value is never negative).
    pub fn constant(&self, name: &str) -> Option<i128> {
        let state = self.state.borrow();
        if !matches!(state.macros.get(name), Some(Macro::Object(_))) {
            return None;
        }
        let tokens = state.expand(&[Tok::Ident(name.to_owned())], Mode::Constant)?;
        evaluate(&tokens).map(Int::value)
    }

    fn find(&self, name: &str, quoted_from: Option<&Path>) -> Option<PathBuf> {
        let name = Path::new(name);
        if name.is_absolute() {
            return name.is_file().then(|| name.to_owned());
        }
        quoted_from
            .into_iter()
            .chain(self.search.iter().map(PathBuf::as_path))
            .map(|dir| dir.join(name))
            .find(|path| path.is_file())
    }

    /// Reads one header (once per compile) and, through its includes, those it names.
    fn read(&self, path: &Path, depth: usize) {
        let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
        if depth > MAX_DEPTH || !self.state.borrow_mut().read.insert(key) {
            return;
        }
        let Ok(bytes) = std::fs::read(path) else {
            return;
        };
        let text = logical_lines(&bytes);
        let dir = path.parent().unwrap_or(Path::new("."));
        let mut groups: Vec<Group> = Vec::new();
        for line in text.lines() {
            let Some(directive) = line.trim_start().strip_prefix('#') else {
                continue;
            };
            let directive = directive.trim_start();
            let word_len = ident_len(directive);
            let (word, rest) = directive.split_at(word_len);
            let rest = rest.trim();
            let active = groups.iter().all(|g| *g == Group::Taking);
            match word {
                "if" | "ifdef" | "ifndef" => groups.push(if active {
                    Group::after(self.state.borrow().condition(word, rest))
                } else {
                    Group::Done
                }),
                "elif" => {
                    let outer_active = groups.len() < 2
                        || groups[..groups.len() - 1]
                            .iter()
                            .all(|g| *g == Group::Taking);
                    if let Some(group) = groups.last_mut() {
                        *group = match group {
                            Group::Waiting if outer_active => {
                                Group::after(self.state.borrow().condition("if", rest))
                            }
                            _ => Group::Done,
                        };
                    }
                }
                "else" => {
                    if let Some(group) = groups.last_mut() {
                        *group = match group {
                            Group::Waiting => Group::Taking,
                            _ => Group::Done,
                        };
                    }
                }
                "endif" => {
                    groups.pop();
                }
                _ if !active => {}
                "define" => self.state.borrow_mut().define(rest),
                "undef" => {
                    let name = &rest[..ident_len(rest)];
                    self.state.borrow_mut().macros.remove(name);
                }
                "include" => {
                    if let Some(path) = include_target(rest)
                        .and_then(|(name, quoted)| self.find(name, quoted.then_some(dir)))
                    {
                        self.read(&path, depth + 1);
                    }
                }
                _ => {}
            }
        }
    }
}

/// Where a conditional group stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Group {
    /// In the branch taken.
    Taking,
    /// No branch taken yet: a later `#elif`/`#else` may be.
    Waiting,
    /// A branch was taken, the group sits in skipped text, or a condition was unknown.
    Done,
}

impl Group {
    fn after(condition: Option<bool>) -> Self {
        match condition {
            Some(true) => Group::Taking,
            Some(false) => Group::Waiting,
            None => Group::Done,
        }
    }
}

/// `<name>` or `"name"` (quoted) after `#include`.
pub fn include_target(rest: &str) -> Option<(&str, bool)> {
    let (close, quoted) = match rest.chars().next()? {
        '<' => ('>', false),
        '"' => ('"', true),
        _ => return None,
    };
    let end = rest[1..].find(close)?;
    Some((&rest[1..1 + end], quoted))
}

impl State {
    fn define(&mut self, definition: &str) {
        let len = ident_len(definition);
        if len == 0 || definition.starts_with(|c: char| c.is_ascii_digit()) {
            return;
        }
        let (name, body) = definition.split_at(len);
        let value = match body.starts_with('(') {
            true => Macro::Function,
            false => Macro::Object(body.trim().to_owned()),
        };
        self.macros.insert(name.to_owned(), value);
    }

    /// Whether the branch after `#if`/`#ifdef`/`#ifndef rest` is taken; `None` when unknown.
    fn condition(&self, directive: &str, rest: &str) -> Option<bool> {
        let defined = || self.macros.contains_key(&rest[..ident_len(rest)]);
        match directive {
            "ifdef" => Some(defined()),
            "ifndef" => Some(!defined()),
            _ => {
                // The preprocessor computes in (u)intmax_t.
                let tokens = self.expand(&tokenize(rest)?, Mode::Condition)?;
                let tokens: Vec<Tok> = tokens
                    .into_iter()
                    .map(|t| match t {
                        Tok::Num(n) => Tok::Num(n.to(true, n.unsigned)),
                        other => other,
                    })
                    .collect();
                evaluate(&tokens).map(|v| v.value != 0)
            }
        }
    }

    /// The tokens with every object-like macro replaced by its body's (not itself again
    /// inside its own expansion, as C does). In a condition `defined X` is 1 or 0 and an
    /// unknown name 0; a name before `(` that is no object-like macro is [`Tok::Unknown`].
    fn expand(&self, tokens: &[Tok], mode: Mode) -> Option<Vec<Tok>> {
        let mut out = Vec::new();
        self.expand_into(tokens, mode, &mut Vec::new(), &mut out)?;
        Some(out)
    }

    fn expand_into(
        &self,
        tokens: &[Tok],
        mode: Mode,
        active: &mut Vec<String>,
        out: &mut Vec<Tok>,
    ) -> Option<()> {
        let mut i = 0;
        while i < tokens.len() {
            let Tok::Ident(name) = &tokens[i] else {
                out.push(tokens[i].clone());
                i += 1;
                continue;
            };
            i += 1;
            if mode == Mode::Condition && name == "defined" {
                let (operand, used) = match tokens.get(i..) {
                    Some([Tok::Ident(n), ..]) => (n, 1),
                    Some([Tok::Punct("("), Tok::Ident(n), Tok::Punct(")"), ..]) => (n, 3),
                    _ => return None,
                };
                out.push(Tok::Num(Int::bool(self.macros.contains_key(operand))));
                i += used;
                continue;
            }
            match self.macros.get(name) {
                Some(Macro::Object(body)) if !active.contains(name) => {
                    if active.len() >= MAX_EXPANSION || out.len() > MAX_TOKENS {
                        return None;
                    }
                    active.push(name.clone());
                    self.expand_into(&tokenize(body)?, mode, active, out)?;
                    active.pop();
                }
                _ if tokens.get(i) == Some(&Tok::Punct("(")) => {
                    i = skip_parenthesized(tokens, i);
                    out.push(Tok::Unknown);
                }
                _ if mode == Mode::Condition => out.push(Tok::Num(Int::signed_int(0))),
                _ => out.push(Tok::Unknown),
            }
        }
        Some(())
    }
}

/// Past the `(…)` group starting at `open` (to the end when it never closes).
fn skip_parenthesized(tokens: &[Tok], open: usize) -> usize {
    let mut depth = 0;
    for (i, token) in tokens.iter().enumerate().skip(open) {
        match token {
            Tok::Punct("(") => depth += 1,
            Tok::Punct(")") => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
    }
    tokens.len()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `#if`: `defined` works, unknown names are 0, arithmetic in (u)intmax_t.
    Condition,
    /// A name's value: every name must expand to a constant.
    Constant,
}

/// The text with comments removed and `\`-newlines spliced: one directive per line.
fn logical_lines(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1).copied()) {
            (b'\\', Some(b'\n')) => i += 2,
            (b'/', Some(b'*')) => {
                let end = bytes[i + 2..].windows(2).position(|w| w == b"*/");
                i = end.map_or(bytes.len(), |e| i + 2 + e + 2);
                out.push(b' ');
            }
            (b'/', Some(b'/')) => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            (quote @ (b'"' | b'\''), _) => {
                out.push(quote);
                i += 1;
                while i < bytes.len() && bytes[i] != quote && bytes[i] != b'\n' {
                    if bytes[i] == b'\\' && i + 1 < bytes.len() {
                        out.push(bytes[i]);
                        i += 1;
                    }
                    out.push(bytes[i]);
                    i += 1;
                }
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn ident_len(text: &str) -> usize {
    text.find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .unwrap_or(text.len())
}

/// A preprocessing token of a `#define` body or an `#if` condition.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(Int),
    Ident(String),
    Punct(&'static str),
    /// Something no constant expression holds (a string, a float, a call).
    Unknown,
}

const PUNCTS: &[&str] = &[
    "<<", ">>", "<=", ">=", "==", "!=", "&&", "||", "(", ")", "+", "-", "*", "/", "%", "<", ">",
    "&", "|", "^", "~", "!", "?", ":", ",",
];

/// `None` for text that is no expression at all (an unterminated character constant).
fn tokenize(text: &str) -> Option<Vec<Tok>> {
    let mut tokens = Vec::new();
    let mut rest = text.trim_start();
    while let Some(c) = rest.chars().next() {
        let len = if c.is_ascii_digit() || c == '.' {
            let len = rest
                .find(|c: char| !c.is_ascii_alphanumeric() && c != '_' && c != '.')
                .unwrap_or(rest.len());
            tokens.push(Int::literal(&rest[..len]).map_or(Tok::Unknown, Tok::Num));
            len
        } else if c.is_ascii_alphabetic() || c == '_' {
            let len = ident_len(rest);
            tokens.push(Tok::Ident(rest[..len].to_owned()));
            len
        } else if c == '\'' {
            let end = rest[1..].find('\'')? + 2;
            tokens.push(Int::character(&rest[1..end - 1]).map_or(Tok::Unknown, Tok::Num));
            end
        } else if let Some(p) = PUNCTS.iter().find(|p| rest.starts_with(**p)) {
            tokens.push(Tok::Punct(p));
            p.len()
        } else {
            tokens.push(Tok::Unknown);
            if c == '"' {
                rest[1..].find('"').map_or(rest.len(), |e| e + 2)
            } else {
                c.len_utf8()
            }
        };
        rest = rest[len..].trim_start();
    }
    Some(tokens)
}

/// An integer as C types it: int or long (64-bit), signed or unsigned; `value` always in
/// the type's range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Int {
    value: i128,
    long: bool,
    unsigned: bool,
}

impl Int {
    fn signed_int(value: i128) -> Self {
        Int {
            value,
            long: false,
            unsigned: false,
        }
    }

    fn bool(b: bool) -> Self {
        Int::signed_int(b as i128)
    }

    fn value(self) -> i128 {
        self.value
    }

    /// `value` wrapped into the type, as a conversion to it does.
    fn of(value: i128, long: bool, unsigned: bool) -> Self {
        let bits = if long { 64 } else { 32 };
        let mut v = value & ((1i128 << bits) - 1);
        if !unsigned && v >= 1i128 << (bits - 1) {
            v -= 1i128 << bits;
        }
        Int {
            value: v,
            long,
            unsigned,
        }
    }

    fn to(self, long: bool, unsigned: bool) -> Self {
        Int::of(self.value, long, unsigned)
    }

    /// `12`, `0x1fUL`, `0755`, `0b101`: C's type for the literal (the first of int, unsigned
    /// int (not decimal), long, unsigned long that holds it, within what the suffix allows).
    fn literal(text: &str) -> Option<Self> {
        let digits_end = text.find(['u', 'U', 'l', 'L']).unwrap_or(text.len());
        let (digits, suffix) = text.split_at(digits_end);
        let suffix = suffix.to_ascii_lowercase();
        let (unsigned, longs) = match suffix.as_str() {
            "" => (false, 0),
            "u" => (true, 0),
            "l" => (false, 1),
            "ll" => (false, 2),
            "ul" | "lu" => (true, 1),
            "ull" | "llu" => (true, 2),
            _ => return None,
        };
        let (radix, body) = if let Some(hex) = digits
            .strip_prefix("0x")
            .or_else(|| digits.strip_prefix("0X"))
        {
            (16, hex)
        } else if let Some(bin) = digits
            .strip_prefix("0b")
            .or_else(|| digits.strip_prefix("0B"))
        {
            (2, bin)
        } else if digits.len() > 1 && digits.starts_with('0') {
            (8, &digits[1..])
        } else {
            (10, digits)
        };
        let value = u64::from_str_radix(body, radix).ok()? as i128;
        // (long, unsigned) in C's order; a decimal literal without `u` is signed unless
        // nothing signed holds it.
        [(false, false), (false, true), (true, false), (true, true)]
            .into_iter()
            .filter(|&(long, uns)| (long || longs == 0) && (uns || !unsigned))
            .filter(|&(_, uns)| !uns || unsigned || radix != 10)
            .find(|&(long, uns)| value <= Int::max(long, uns))
            .or(Some((true, true)))
            .map(|(long, uns)| Int::of(value, long, uns))
    }

    /// The largest value of the type.
    fn max(long: bool, unsigned: bool) -> i128 {
        let value_bits = (if long { 64 } else { 32 }) - u32::from(!unsigned);
        (1i128 << value_bits) - 1
    }

    /// The inside of a character constant: `a`, `\n`, `\0`, `\x41`, `\101`.
    fn character(text: &str) -> Option<Self> {
        let value = match text.strip_prefix('\\') {
            None if text.chars().count() == 1 => text.chars().next()? as i128,
            None => return None,
            Some(escape) => match escape {
                "n" => 10,
                "t" => 9,
                "r" => 13,
                "a" => 7,
                "b" => 8,
                "f" => 12,
                "v" => 11,
                "\\" | "'" | "\"" | "?" => escape.as_bytes()[0] as i128,
                _ => match escape.strip_prefix('x') {
                    Some(hex) => i128::from_str_radix(hex, 16).ok()?,
                    None => i128::from_str_radix(escape, 8).ok()?,
                },
            },
        };
        // A plain char is signed here: '\xff' is -1.
        Some(Int::signed_int(value as u8 as i8 as i128))
    }
}

/// The value of a whole constant expression; `None` when it is none.
fn evaluate(tokens: &[Tok]) -> Option<Int> {
    let mut parser = ExprParser {
        tokens,
        pos: 0,
        nesting: 0,
    };
    let value = parser.conditional().ok()?;
    (parser.pos == tokens.len()).then_some(value)?
}

/// Precedence climbing over C's operators. `Err` for text that is no expression; `Ok(None)`
/// for an expression whose value is unknown (a short-circuit may still decide without it).
struct ExprParser<'t> {
    tokens: &'t [Tok],
    pos: usize,
    /// Parentheses and unary operators open around the current token.
    nesting: usize,
}

type Parsed = Result<Option<Int>, ()>;

/// Binary operators by precedence, lowest first.
const BINARY: &[&[&str]] = &[
    &["||"],
    &["&&"],
    &["|"],
    &["^"],
    &["&"],
    &["==", "!="],
    &["<", ">", "<=", ">="],
    &["<<", ">>"],
    &["+", "-"],
    &["*", "/", "%"],
];

impl ExprParser<'_> {
    fn punct(&mut self, p: &str) -> bool {
        let found = matches!(self.tokens.get(self.pos), Some(Tok::Punct(q)) if *q == p);
        if found {
            self.pos += 1;
        }
        found
    }

    fn conditional(&mut self) -> Parsed {
        let condition = self.binary(0)?;
        if !self.punct("?") {
            return Ok(condition);
        }
        let then = self.conditional()?;
        if !self.punct(":") {
            return Err(());
        }
        let otherwise = self.conditional()?;
        let Some(condition) = condition else {
            return Ok(None);
        };
        let chosen = if condition.value != 0 {
            then
        } else {
            otherwise
        };
        // The result has the type both branches convert to, when both are known.
        Ok(match (then, otherwise) {
            (Some(a), Some(b)) => {
                let (long, unsigned) = common(a, b);
                chosen.map(|v| v.to(long, unsigned))
            }
            _ => chosen,
        })
    }

    fn binary(&mut self, level: usize) -> Parsed {
        let Some(operators) = BINARY.get(level) else {
            return self.unary();
        };
        let mut left = self.binary(level + 1)?;
        while let Some(op) = operators.iter().copied().find(|op| self.punct(op)) {
            let right = self.binary(level + 1)?;
            left = match op {
                "&&" => logical(left, right, false),
                "||" => logical(left, right, true),
                _ => left.zip(right).and_then(|(l, r)| apply(op, l, r)),
            };
        }
        Ok(left)
    }

    fn unary(&mut self) -> Parsed {
        for op in ["-", "+", "~", "!"] {
            if self.punct(op) {
                let operand = self.nested(Self::unary)?;
                return Ok(operand.map(|v| match op {
                    "-" => Int::of(-v.value, v.long, v.unsigned),
                    "~" => Int::of(!v.value, v.long, v.unsigned),
                    "!" => Int::bool(v.value == 0),
                    _ => v,
                }));
            }
        }
        self.primary()
    }

    /// `parse` one level deeper; too deep is no expression.
    fn nested(&mut self, parse: fn(&mut Self) -> Parsed) -> Parsed {
        if self.nesting >= MAX_NESTING {
            return Err(());
        }
        self.nesting += 1;
        let parsed = parse(self);
        self.nesting -= 1;
        parsed
    }

    fn primary(&mut self) -> Parsed {
        let token = self.tokens.get(self.pos).ok_or(())?;
        self.pos += 1;
        match token {
            Tok::Num(n) => Ok(Some(*n)),
            Tok::Unknown => Ok(None),
            Tok::Punct("(") => {
                let inner = self.nested(Self::conditional)?;
                if self.punct(")") {
                    Ok(inner)
                } else {
                    Err(())
                }
            }
            _ => Err(()),
        }
    }
}

/// `&&` (`decisive` false) or `||` (true): one side equal to `decisive` decides, even when
/// the other is unknown.
fn logical(left: Option<Int>, right: Option<Int>, decisive: bool) -> Option<Int> {
    let truth = |v: Option<Int>| v.map(|v| v.value != 0);
    match (truth(left), truth(right)) {
        (Some(l), _) if l == decisive => Some(Int::bool(decisive)),
        (_, Some(r)) if r == decisive => Some(Int::bool(decisive)),
        (Some(_), Some(_)) => Some(Int::bool(!decisive)),
        _ => None,
    }
}

/// The type both operands convert to (C's usual arithmetic conversions, int and long).
fn common(a: Int, b: Int) -> (bool, bool) {
    let long = a.long || b.long;
    let unsigned = match (a.long, b.long) {
        (x, y) if x == y => a.unsigned || b.unsigned,
        (true, false) => a.unsigned,
        _ => b.unsigned,
    };
    (long, unsigned)
}

fn apply(op: &str, l: Int, r: Int) -> Option<Int> {
    if matches!(op, "<<" | ">>") {
        let bits = if l.long { 64 } else { 32 };
        if r.value < 0 || r.value >= bits {
            return None;
        }
        let shift = r.value as u32;
        let value = if op == "<<" {
            l.value << shift
        } else {
            l.value >> shift
        };
        return Some(Int::of(value, l.long, l.unsigned));
    }
    let (long, unsigned) = common(l, r);
    let (a, b) = (l.to(long, unsigned).value, r.to(long, unsigned).value);
    let value = match op {
        "*" => a * b,
        "/" if b == 0 => return None,
        "/" => a / b,
        "%" if b == 0 => return None,
        "%" => a % b,
        "+" => a + b,
        "-" => a - b,
        "&" => a & b,
        "|" => a | b,
        "^" => a ^ b,
        "==" => return Some(Int::bool(a == b)),
        "!=" => return Some(Int::bool(a != b)),
        "<" => return Some(Int::bool(a < b)),
        ">" => return Some(Int::bool(a > b)),
        "<=" => return Some(Int::bool(a <= b)),
        ">=" => return Some(Int::bool(a >= b)),
        _ => return None,
    };
    Some(Int::of(value, long, unsigned))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::write_file;
    use bpfhook_testkit::TempPath;

    /// Headers searched in `dir` (as `-I dir`), the script in `dir` too.
    fn headers_in(dir: &TempPath) -> Headers {
        Headers::new(&IncludeOptions {
            dirs: vec![dir.path().to_owned()],
            files: Vec::new(),
            script_dir: Some(dir.path().to_owned()),
        })
    }

    #[test]
    fn constants_are_c_constant_expressions_typed_as_c_types_them() {
        let dir = TempPath::dir("bpfhook-headers");
        write_file(
            &dir,
            "consts.h",
            "#define A 1\n\
             #define B (A << 3) /* a comment */\n\
             #define C B + 1\n\
             #define D (C * 2)\n\
             #define EAGAIN 11\n\
             #define EWOULDBLOCK EAGAIN\n\
             #define LONG_ONE \\\n    0x10UL\n\
             #define ALL32 (~0U)\n\
             #define ALL64 (~0UL)\n\
             #define MINUS (-100)\n\
             #define BIG 0x80000000\n\
             #define NEG_BIG (-0x80000000)\n\
             #define CHAR 'A'\n\
             #define OCTAL 0755\n\
             #define PICK (A ? 7 : 8)\n",
        );
        let headers = headers_in(&dir);
        headers
            .include_from_script("consts.h", false)
            .expect("found");
        let value = |name| headers.constant(name);
        assert_eq!(value("A"), Some(1));
        assert_eq!(value("B"), Some(8));
        // Textual expansion, as the preprocessor's: D is (B + 1 * 2).
        assert_eq!(value("D"), Some(10));
        assert_eq!(value("EWOULDBLOCK"), Some(11));
        assert_eq!(value("LONG_ONE"), Some(16));
        assert_eq!(value("ALL32"), Some(u32::MAX as i128));
        assert_eq!(value("ALL64"), Some(u64::MAX as i128));
        assert_eq!(value("MINUS"), Some(-100));
        // A hex literal too big for int is unsigned int, and stays so when negated.
        assert_eq!(value("BIG"), Some(0x8000_0000));
        assert_eq!(value("NEG_BIG"), Some(0x8000_0000));
        assert_eq!(value("CHAR"), Some(65));
        assert_eq!(value("OCTAL"), Some(0o755));
        assert_eq!(value("PICK"), Some(7));
        assert_eq!(value("NOT_DEFINED"), None);
    }

    #[test]
    fn other_macros_are_no_constants() {
        let dir = TempPath::dir("bpfhook-headers");
        let mut text = String::from(
            "#define NULL ((void *)0)\n\
             #define NAME \"text\"\n\
             #define F(x) ((x) + 1)\n\
             #define USES_F F(1)\n\
             #define USES_UNKNOWN (UNKNOWN + 1)\n\
             #define SELF SELF\n\
             #define DIV0 (1 / 0)\n\
             #define CAST ((int)5)\n\
             #define FLOAT 1.5\n\
             #define EMPTY\n\
             int f(void);\n\
             struct s { int x; };\n",
        );
        // Nested past any stack, and doubling at each of 40 levels: no constant, no crash.
        let deep = 100_000;
        text += &format!("#define DEEP {}1{}\n", "(".repeat(deep), ")".repeat(deep));
        text += &format!("#define MINUSES {}1\n", "-".repeat(deep));
        text += "#define X0 1\n";
        for level in 1..40 {
            text += &format!("#define X{level} X{0} + X{0}\n", level - 1);
        }
        write_file(&dir, "other.h", &text);
        let headers = headers_in(&dir);
        headers
            .include_from_script("other.h", false)
            .expect("found");
        for name in [
            "NULL",
            "NAME",
            "F",
            "USES_F",
            "USES_UNKNOWN",
            "SELF",
            "DIV0",
            "CAST",
            "FLOAT",
            "EMPTY",
            "DEEP",
            "MINUSES",
            "X39",
        ] {
            assert_eq!(headers.constant(name), None, "{name}");
        }
    }

    #[test]
    fn nested_includes_are_followed_once_and_missing_ones_skipped() {
        let dir = TempPath::dir("bpfhook-headers");
        write_file(&dir,
            "top.h",
            "#include \"sub/mid.h\"\n#include <nowhere/at_all.h>\n#include \"top.h\"\n#define TOP (MID + 1)\n",
        );
        // Quoted: beside the including file first; angle brackets: the search path.
        write_file(
            &dir,
            "sub/mid.h",
            "#include \"leaf.h\"\n#include <base.h>\n#define MID (LEAF + BASE)\n",
        );
        write_file(&dir, "sub/leaf.h", "#define LEAF 10\n");
        write_file(&dir, "leaf.h", "#define LEAF 1000\n");
        write_file(&dir, "base.h", "#define BASE 100\n#include \"top.h\"\n");
        let headers = headers_in(&dir);
        headers.include_from_script("top.h", false).expect("found");
        assert_eq!(headers.constant("TOP"), Some(111));
        assert_eq!(headers.state.borrow().read.len(), 4, "each file read once");
    }

    #[test]
    fn includes_deeper_than_the_bound_are_skipped() {
        let dir = TempPath::dir("bpfhook-headers");
        for level in 0..=MAX_DEPTH + 1 {
            let next = level + 1;
            write_file(
                &dir,
                &format!("h{level}.h"),
                &format!("#define LEVEL{level} {level}\n#include \"h{next}.h\"\n"),
            );
        }
        let headers = headers_in(&dir);
        headers.include_from_script("h0.h", false).expect("found");
        assert_eq!(
            headers.constant(&format!("LEVEL{MAX_DEPTH}")),
            Some(MAX_DEPTH as i128)
        );
        assert_eq!(headers.constant(&format!("LEVEL{}", MAX_DEPTH + 1)), None);
    }

    #[test]
    fn conditionals_follow_what_is_defined_so_far_and_take_no_branch_when_unknown() {
        let dir = TempPath::dir("bpfhook-headers");
        write_file(&dir,
            "cond.h",
            "#define ON 1\n\
             #define F(x) x\n\
             #ifdef ON\n#define IFDEF_TAKEN 1\n#else\n#define IFDEF_ELSE 1\n#endif\n\
             #ifndef ON\n#define IFNDEF_TAKEN 1\n#endif\n\
             #if defined(ON) && ON > 0 && !defined OFF\n#define IF_TAKEN 1\n#endif\n\
             #if OFF\n#define ZERO_TAKEN 1\n#elif ON == 2\n#define ELIF_WRONG 1\n#elif ON == 1\n#define ELIF_TAKEN 1\n#else\n#define ELSE_WRONG 1\n#endif\n\
             #if F(1)\n#define UNKNOWN_IF 1\n#elif 1\n#define UNKNOWN_ELIF 1\n#else\n#define UNKNOWN_ELSE 1\n#endif\n\
             #if 0 && F(1)\n#define SHORT_CIRCUIT_WRONG 1\n#else\n#define SHORT_CIRCUIT_ELSE 1\n#endif\n\
             #if F(1) || 1\n#define EITHER_SIDE_DECIDES 1\n#endif\n\
             #if 0\n#if 1\n#define NESTED_IN_SKIPPED 1\n#else\n#define NESTED_ELSE_IN_SKIPPED 1\n#endif\n#endif\n\
             #if __linux__ && __SIZEOF_LONG__ == 8\n#define PREDEFINED_SEEN 1\n#endif\n\
             #define GONE 1\n#undef GONE\n\
             #ifdef GONE\n#define UNDEF_WRONG 1\n#endif\n",
        );
        let headers = headers_in(&dir);
        headers.include_from_script("cond.h", false).expect("found");
        let defined = |name| headers.constant(name).is_some();
        for name in [
            "IFDEF_TAKEN",
            "IF_TAKEN",
            "ELIF_TAKEN",
            "SHORT_CIRCUIT_ELSE",
            "EITHER_SIDE_DECIDES",
            "PREDEFINED_SEEN",
        ] {
            assert!(defined(name), "{name} is defined");
        }
        for name in [
            "IFDEF_ELSE",
            "IFNDEF_TAKEN",
            "ZERO_TAKEN",
            "ELIF_WRONG",
            "ELSE_WRONG",
            "UNKNOWN_IF",
            "UNKNOWN_ELIF",
            "UNKNOWN_ELSE",
            "SHORT_CIRCUIT_WRONG",
            "NESTED_IN_SKIPPED",
            "NESTED_ELSE_IN_SKIPPED",
            "GONE",
            "UNDEF_WRONG",
        ] {
            assert!(!defined(name), "{name} is not defined");
        }
    }

    #[test]
    fn quoted_script_includes_look_in_the_script_directory_first() {
        let scripts = TempPath::dir("bpfhook-headers");
        let system = TempPath::dir("bpfhook-headers");
        write_file(&scripts, "local.h", "#define WHERE 1\n");
        write_file(&system, "local.h", "#define WHERE 2\n");
        let headers = |script_dir: &TempPath| {
            Headers::new(&IncludeOptions {
                dirs: vec![system.path().to_owned()],
                files: Vec::new(),
                script_dir: Some(script_dir.path().to_owned()),
            })
        };
        let quoted = headers(&scripts);
        quoted.include_from_script("local.h", true).expect("found");
        assert_eq!(quoted.constant("WHERE"), Some(1));
        let angle = headers(&scripts);
        angle.include_from_script("local.h", false).expect("found");
        assert_eq!(angle.constant("WHERE"), Some(2));
        // Not beside the script: the search path still has it.
        let elsewhere = headers(&TempPath::dir("bpfhook-headers"));
        elsewhere
            .include_from_script("local.h", true)
            .expect("found");
        assert_eq!(elsewhere.constant("WHERE"), Some(2));
    }

    #[test]
    fn a_header_that_exists_nowhere_is_an_error() {
        let headers = Headers::new(&IncludeOptions::default());
        let missing = headers
            .include_from_script("lol/no.h", false)
            .expect_err("no such header");
        assert_eq!(missing.to_string(), "'lol/no.h' file not found");
        let missing = headers
            .include_command_line(&["errno.h".to_owned(), "nope/x.h".to_owned()])
            .expect_err("no such header");
        assert_eq!(missing, NotFound("nope/x.h".to_owned()));
    }

    /// The system's own headers (libc6-dev, linux-libc-dev), as scripts include them.
    #[test]
    fn system_headers_give_the_constants_libc_has() {
        let headers = Headers::new(&IncludeOptions::default());
        for header in ["errno.h", "syscall.h", "linux/sched.h", "sys/socket.h"] {
            headers.include_from_script(header, false).expect(header);
        }
        let value = |name| headers.constant(name);
        assert_eq!(value("EPERM"), Some(libc::EPERM as i128));
        assert_eq!(value("EWOULDBLOCK"), Some(libc::EAGAIN as i128));
        assert_eq!(value("__NR_getppid"), Some(libc::SYS_getppid as i128));
        assert_eq!(value("__NR_nanosleep"), Some(libc::SYS_nanosleep as i128));
        assert_eq!(value("SYS_openat"), Some(libc::SYS_openat as i128));
        assert_eq!(value("CLONE_NEWNS"), Some(libc::CLONE_NEWNS as i128));
        assert_eq!(value("AF_INET6"), Some(libc::AF_INET6 as i128));
    }
}

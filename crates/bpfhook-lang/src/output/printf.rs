//! `printf` format strings the way bpftrace reads and applies them.
//!
//! bpftrace formats through C++ streams, not C's printf, and the differences show: `%d` and
//! `%x` truncate to 32 bits unless a length modifier widens them, padding goes before a sign or
//! a `0x` (`%05d` of -5 is `000-5`), precision only matters for floats (which it rejects), a
//! space flag does nothing, and `%s` pads only the first piece of a tuple. A `%` that starts
//! no valid conversion stays as text.

use std::fmt::Write as _;

use thiserror::Error;

use super::value::{escape_buffer, BufferStyle, Value};

/// What argument a conversion takes, for the semantic pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    /// `%d %i %u %o %x %X`: an integer, bool, enum or pointer.
    Integer,
    /// `%c`: an integer, printed as the byte it truncates to.
    Char,
    /// `%p`: an integer or pointer, printed as an address.
    Pointer,
    /// `%s`: anything; an enum prints its name, an integer its number.
    Any,
    /// `%r %rx %rh`: a `buf()`.
    Buffer,
}

/// The conversion letter(s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    Signed,
    Unsigned,
    Octal,
    Hex {
        upper: bool,
    },
    Char,
    Pointer,
    Str,
    Buffer(BufferStyle),
    /// `%gr`: page allocation flags by name.
    GfpFlags,
}

/// One conversion of a format string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// Byte offset of its `%` in the format string.
    pub offset: usize,
    /// The conversion as written (`%-5s`).
    pub text: String,
    pub kind: ArgKind,
    verb: Verb,
    left: bool,
    plus: bool,
    alternate: bool,
    zero: bool,
    width: usize,
    length: String,
}

/// A format string that does not compile, and where.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unsupported format specifier: {specifier}")]
pub struct FormatError {
    /// Byte offset of the `%` of the bad conversion.
    pub offset: usize,
    /// Its length in bytes, to underline it.
    pub len: usize,
    /// The conversion letters (`f`, `gr`…).
    pub specifier: String,
}

/// A parsed format string: literal text around conversions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Format {
    /// One more than `specs`: text before each conversion, then the tail.
    fragments: Vec<String>,
    specs: Vec<Spec>,
}

/// A conversion matched at some `%`, before its letters are judged.
struct Matched {
    len: usize,
    left: bool,
    plus: bool,
    alternate: bool,
    zero: bool,
    width: usize,
    length: String,
    letters: String,
}

/// Matches bpftrace's conversion syntax at `s` (which starts with `%`): flags `-+ #0` in that
/// order, each at most once, width and precision (digits or `*`, both ignored when `*`), length
/// modifiers, then the letters. `None` when no conversion starts here.
fn match_conversion(s: &str) -> Option<Matched> {
    let b = s.as_bytes();
    let mut i = 1;
    let flag = |c: u8, i: &mut usize| {
        let on = b.get(*i) == Some(&c);
        *i += usize::from(on);
        on
    };
    let left = flag(b'-', &mut i);
    let plus = flag(b'+', &mut i);
    let _space = flag(b' ', &mut i);
    let alternate = flag(b'#', &mut i);
    let zero = flag(b'0', &mut i);
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        &s[start..*i]
    };
    let mut width = 0;
    if b.get(i) == Some(&b'*') {
        i += 1;
    } else {
        // bpftrace reads widths as C ints; a wider one starts no conversion here.
        let written = digits(&mut i);
        if !written.is_empty() {
            width = usize::try_from(written.parse::<i32>().ok()?).ok()?;
        }
    }
    if b.get(i) == Some(&b'.') {
        let after = i + 1;
        if b.get(after) == Some(&b'*') {
            i = after + 1;
        } else {
            let mut j = after;
            if !digits(&mut j).is_empty() {
                i = j;
            }
        }
    }
    let length_start = i;
    while b.get(i).is_some_and(|c| b"hlLjzt".contains(c)) {
        i += 1;
    }
    let length = s[length_start..i].to_string();
    let rest = &s[i..];
    let letters = match rest.as_bytes().first()? {
        c if b"diouxXeEfFGaAcspn%".contains(c) => &rest[..1],
        _ => ["gr", "g", "rh", "rx", "r"]
            .into_iter()
            .find(|l| rest.starts_with(l))?,
    };
    Some(Matched {
        len: i + letters.len(),
        left,
        plus,
        alternate,
        zero,
        width,
        length,
        letters: letters.to_string(),
    })
}

fn verb(letters: &str) -> Option<(Verb, ArgKind)> {
    Some(match letters {
        "d" | "i" => (Verb::Signed, ArgKind::Integer),
        "u" => (Verb::Unsigned, ArgKind::Integer),
        "o" => (Verb::Octal, ArgKind::Integer),
        "x" => (Verb::Hex { upper: false }, ArgKind::Integer),
        "X" => (Verb::Hex { upper: true }, ArgKind::Integer),
        "c" => (Verb::Char, ArgKind::Char),
        "p" => (Verb::Pointer, ArgKind::Pointer),
        "s" => (Verb::Str, ArgKind::Any),
        "r" => (Verb::Buffer(BufferStyle::Escaped), ArgKind::Buffer),
        "rx" => (Verb::Buffer(BufferStyle::Hex), ArgKind::Buffer),
        "rh" => (Verb::Buffer(BufferStyle::Spaced), ArgKind::Buffer),
        "gr" => (Verb::GfpFlags, ArgKind::Integer),
        // Floats and %n.
        _ => return None,
    })
}

impl Format {
    pub fn parse(fmt: &str) -> Result<Format, FormatError> {
        let mut fragments = Vec::new();
        let mut specs = Vec::new();
        let mut text = String::new();
        let mut pos = 0;
        while let Some(found) = fmt[pos..].find('%') {
            let at = pos + found;
            text.push_str(&fmt[pos..at]);
            let Some(m) = match_conversion(&fmt[at..]) else {
                text.push('%');
                pos = at + 1;
                continue;
            };
            pos = at + m.len;
            if m.letters == "%" {
                text.push('%');
                continue;
            }
            let (verb, kind) = verb(&m.letters).ok_or_else(|| FormatError {
                offset: at,
                len: m.len,
                specifier: m.letters.clone(),
            })?;
            fragments.push(std::mem::take(&mut text));
            specs.push(Spec {
                offset: at,
                text: fmt[at..pos].to_string(),
                kind,
                verb,
                left: m.left,
                plus: m.plus,
                alternate: m.alternate,
                zero: m.zero,
                width: m.width,
                length: m.length,
            });
        }
        text.push_str(&fmt[pos..]);
        fragments.push(text);
        Ok(Format { fragments, specs })
    }

    /// The conversions, one per argument, in order.
    pub fn specs(&self) -> &[Spec] {
        &self.specs
    }

    /// The formatted text. Arguments beyond the conversions are ignored, conversions beyond
    /// the arguments print nothing; an argument a conversion cannot take prints as
    /// `!{reason}` in its place, as bpftrace does.
    pub fn render(&self, args: &[Value]) -> String {
        let mut out = String::new();
        for ((fragment, spec), arg) in self.fragments.iter().zip(&self.specs).zip(args) {
            out.push_str(fragment);
            match spec.apply(arg) {
                Ok(text) => out.push_str(&text),
                Err(reason) => {
                    let _ = write!(out, "!{{{reason}}}");
                }
            }
        }
        if let Some(tail) = self.fragments.last() {
            out.push_str(tail);
        }
        out
    }
}

/// Bits of `v` after the C cast a length modifier implies, sign-extended for signed verbs.
fn cast(v: i128, length: &str, signed: bool) -> i128 {
    let bits = v as u64;
    match (length, signed) {
        ("hh", true) => i128::from(bits as i8),
        ("hh", false) => i128::from(bits as u8),
        ("h", true) => i128::from(bits as i16),
        ("h", false) => i128::from(bits as u16),
        ("l" | "ll" | "j" | "z" | "t", true) => i128::from(bits as i64),
        ("l" | "ll" | "j" | "z" | "t", false) => i128::from(bits),
        (_, true) => i128::from(bits as i32),
        (_, false) => i128::from(bits as u32),
    }
}

impl Spec {
    fn pad(&self, text: &str) -> String {
        let fill = if self.zero { '0' } else { ' ' };
        // Streams count bytes.
        let missing = self.width.saturating_sub(text.len());
        let padding: String = std::iter::repeat_n(fill, missing).collect();
        if self.left {
            format!("{text}{padding}")
        } else {
            format!("{padding}{text}")
        }
    }

    fn integer(&self, arg: &Value) -> Result<i128, String> {
        arg.as_integer()
            .ok_or_else(|| format!("invalid integer conversion: {}", arg.to_text()))
    }

    fn apply(&self, arg: &Value) -> Result<String, String> {
        let text = match self.verb {
            Verb::Signed => {
                let v = cast(self.integer(arg)?, &self.length, true);
                match self.plus && v >= 0 {
                    true => format!("+{v}"),
                    false => v.to_string(),
                }
            }
            Verb::Unsigned => cast(self.integer(arg)?, &self.length, false).to_string(),
            Verb::Octal => {
                let v = cast(self.integer(arg)?, &self.length, false);
                match self.alternate && v != 0 {
                    true => format!("0{v:o}"),
                    false => format!("{v:o}"),
                }
            }
            Verb::Hex { upper } => {
                let v = cast(self.integer(arg)?, &self.length, false);
                match (self.alternate && v != 0, upper) {
                    (true, true) => format!("0X{v:X}"),
                    (true, false) => format!("0x{v:x}"),
                    (false, true) => format!("{v:X}"),
                    (false, false) => format!("{v:x}"),
                }
            }
            Verb::Char => {
                let byte = cast(self.integer(arg)?, &self.length, true) as u8;
                String::from_utf8_lossy(&[byte]).into_owned()
            }
            Verb::Pointer => match self.integer(arg)? as u64 {
                0 => "0".to_string(),
                v => format!("0x{v:x}"),
            },
            Verb::Buffer(style) => match arg {
                Value::Buffer(bytes) => escape_buffer(bytes, style),
                other => return Ok(self.string(other)),
            },
            Verb::Str => return Ok(self.string(arg)),
            Verb::GfpFlags => {
                let flags = self.integer(arg)? as u64;
                super::gfp::names(flags).unwrap_or_else(|| format!("{flags:#x}"))
            }
        };
        Ok(self.pad(&text))
    }

    /// `%s`: the value's text, the width applying to its first piece only (the opening
    /// bracket of a tuple, the number of a duration) as a stream applies it.
    fn string(&self, arg: &Value) -> String {
        let text = match arg {
            Value::Int(v) if self.plus && *v >= 0 => format!("+{v}"),
            other => other.to_text(),
        };
        let head = match arg {
            Value::Tuple(_) | Value::Array(_) => 1,
            Value::Record(fields) if !fields.is_empty() => 2,
            Value::Duration(_) => text.find(|c: char| !c.is_ascii_digit()).unwrap_or(0),
            _ => text.len(),
        };
        let (first, rest) = text.split_at(head.min(text.len()));
        format!("{}{rest}", self.pad(first))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(fmt: &str, args: &[Value]) -> String {
        Format::parse(fmt).expect("format parses").render(args)
    }

    fn s(v: &str) -> Value {
        Value::Str(v.to_string())
    }

    fn sym(name: &str, number: u64) -> Value {
        Value::Symbol {
            name: name.into(),
            number,
        }
    }

    #[test]
    fn length_modifiers_truncate() {
        let x = Value::Int(0x12345678abcdef);
        assert_eq!(
            render("%hhx %hx %x %jx\n", &[x.clone(), x.clone(), x.clone(), x]),
            "ef cdef 78abcdef 12345678abcdef\n"
        );
        assert_eq!(
            render("%llx", &[Value::UInt(0x8877665544332211)]),
            "8877665544332211"
        );
        assert_eq!(render("%d", &[Value::Int(0x1_0000_0005)]), "5");
        assert_eq!(
            render("%ld %lu", &[Value::Int(-1), Value::Int(-1)]),
            "-1 18446744073709551615"
        );
        assert_eq!(
            render("%u %hhd", &[Value::Int(-1), Value::Int(255)]),
            "4294967295 -1"
        );
        assert_eq!(render("%llus", &[Value::UInt(1)]), "1s");
    }

    #[test]
    fn arguments_and_fragments() {
        assert_eq!(
            render("value: %dms100\n", &[Value::Int(100)]),
            "value: 100ms100\n"
        );
        let args = [
            Value::Int(1),
            s("a"),
            Value::Int(2),
            s("ab"),
            Value::Int(3),
            s("abc"),
            Value::Int(4),
            s("abcd"),
        ];
        assert_eq!(
            render("%dst: %sa; %dnd: %sb;; %drd: %sc;;; %dth: %sd;;;;\n", &args),
            "1st: aa; 2nd: abb;; 3rd: abcc;;; 4th: abcdd;;;;\n"
        );
        assert_eq!(render("100%% done %", &[]), "100% done %");
        assert_eq!(render("%y %5%", &[]), "%y %");
        assert_eq!(
            render(
                "%c%c%c%c\n",
                &[
                    Value::Int(0x41),
                    Value::Int(0x42),
                    Value::Int(0x43),
                    Value::Int(0x44)
                ]
            ),
            "ABCD\n"
        );
    }

    #[test]
    fn padding_as_streams_pad() {
        assert_eq!(render("%5s %04x", &[s("ba"), Value::Int(2)]), "   ba 0002");
        assert_eq!(
            render("%-5s %5s %s\n", &[sym("A", 0), sym("B", 1), sym("C", 2)]),
            "A         B C\n"
        );
        assert_eq!(
            render(
                "%05d|%-4d|%+d|% d",
                &[Value::Int(-5), Value::Int(7), Value::Int(3), Value::Int(3)]
            ),
            "000-5|7   |+3|3"
        );
        assert_eq!(
            render(
                "%#x %#X %#o %#x",
                &[
                    Value::Int(255),
                    Value::Int(255),
                    Value::Int(8),
                    Value::Int(0)
                ]
            ),
            "0xff 0XFF 010 0"
        );
        assert_eq!(render("%#06x", &[Value::Int(2)]), "0000x2");
        assert_eq!(
            render("%.3s|%*d", &[s("abcdef"), Value::Int(4)]),
            "abcdef|4"
        );
        let t = Value::Tuple(vec![Value::Int(1), Value::Int(2)]);
        assert_eq!(render("%4s", &[t]), "   (1, 2)");
    }

    #[test]
    fn strings_enums_and_integers() {
        assert_eq!(
            render(
                "%d %s %d %s\n",
                &[
                    sym("ONE", 1),
                    sym("ONE", 1),
                    sym("100", 100),
                    sym("100", 100)
                ]
            ),
            "1 ONE 100 100\n"
        );
        assert_eq!(
            render(
                "%s %s %s",
                &[Value::Int(-3), Value::Bool(true), Value::UInt(7)]
            ),
            "-3 true 7"
        );
        assert_eq!(render("%d", &[Value::Bool(true)]), "1");
        assert_eq!(
            render(
                "%p %p",
                &[Value::UInt(0xffff_8000_1234_0000), Value::UInt(0)]
            ),
            "0xffff800012340000 0"
        );
        assert_eq!(render("%d", &[s("x")]), "!{invalid integer conversion: x}");
    }

    #[test]
    fn buffers() {
        let b = Value::Buffer(b"Hello\0".to_vec());
        assert_eq!(render("%r", std::slice::from_ref(&b)), "Hello\\x00");
        assert_eq!(
            render("%rx", std::slice::from_ref(&b)),
            "\\x48\\x65\\x6c\\x6c\\x6f\\x00"
        );
        assert_eq!(render("%rh", std::slice::from_ref(&b)), "48 65 6c 6c 6f 00");
        assert_eq!(render("%s", &[b]), "Hello\\x00");
    }

    #[test]
    fn specs_tell_argument_kinds() {
        let f = Format::parse("a %-5s %llx %c %p %rh %% %d").expect("parses");
        let kinds: Vec<ArgKind> = f.specs().iter().map(|s| s.kind).collect();
        assert_eq!(
            kinds,
            [
                ArgKind::Any,
                ArgKind::Integer,
                ArgKind::Char,
                ArgKind::Pointer,
                ArgKind::Buffer,
                ArgKind::Integer
            ]
        );
        assert_eq!(f.specs()[0].offset, 2);
        assert_eq!(f.specs()[0].text, "%-5s");
        assert_eq!(f.specs()[5].offset, 25);
    }

    #[test]
    fn unsupported_conversions_are_located() {
        let e = Format::parse("ok %d then %.2f").expect_err("floats are rejected");
        assert_eq!((e.offset, e.len, e.specifier.as_str()), (11, 4, "f"));
        assert_eq!(e.to_string(), "unsupported format specifier: f");
        assert!(Format::parse("%n").is_err());
        // %gr is a conversion of its own, not %g followed by an r.
        let f = Format::parse("%gr").expect("parses");
        assert_eq!((f.specs().len(), f.specs()[0].kind), (1, ArgKind::Integer));
    }

    #[test]
    fn missing_and_extra_arguments_do_not_panic() {
        let f = Format::parse("a%db%dc").expect("parses");
        assert_eq!(f.render(&[Value::Int(1)]), "a1c");
        assert_eq!(
            f.render(&[Value::Int(1), Value::Int(2), Value::Int(3)]),
            "a1b2c"
        );
        assert_eq!(Format::parse("é%").expect("parses").render(&[]), "é%");
        let huge = "%99999999999d";
        assert_eq!(
            Format::parse(huge)
                .expect("parses")
                .render(&[Value::Int(1)]),
            huge
        );
    }
}

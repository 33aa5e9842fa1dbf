//! Splits one line of assembly into tokens, remembering each token's column
//! so parse errors can point at it.

use crate::asm::AsmError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum TokenKind {
    Ident(String),
    /// Unsigned magnitude; a leading `-` is a separate token.
    Number(u64),
    Punct(&'static str),
    Str(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Token {
    pub kind: TokenKind,
    /// 1-based column of the token's first character.
    pub column: usize,
}

/// Operators, longest first so `<<=` wins over `<`. The `s`-prefixed ones are
/// the verifier's signed operators (`s>=`, `s/=`, `s>>=`).
const PUNCTUATION: &[&str] = &[
    "s>>=", "<<=", ">>=", "s>=", "s<=", "s/=", "s%=", "s>", "s<", "+=", "-=", "*=", "/=", "|=",
    "&=", "%=", "^=", "==", "!=", ">=", "<=", ">", "<", "&", "=", "(", ")", "[", "]", "*", "+",
    "-", ",", ":", "#", "@",
];

/// The line without its comment. `;` and `//` always start one; `#` only at
/// the start or after a space, because `call bpf_map_lookup_elem#1` uses it.
pub(super) fn strip_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    let mut in_string = false;
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'\\' if in_string => index += 1,
            b'"' => in_string = !in_string,
            b';' if !in_string => return &line[..index],
            b'/' if !in_string && bytes.get(index + 1) == Some(&b'/') => return &line[..index],
            b'#' if !in_string && (index == 0 || bytes[index - 1].is_ascii_whitespace()) => {
                return &line[..index]
            }
            _ => {}
        }
        index += 1;
    }
    line
}

pub(super) fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == '.'
}

pub(super) fn is_ident_continue(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

/// Tokenizes `text`, whose first character is at column `first_column` of
/// line `line`.
pub(super) fn tokenize(
    text: &str,
    line: usize,
    first_column: usize,
) -> Result<Vec<Token>, AsmError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut index = 0;
    let error = |index: usize, message: String| AsmError::Syntax {
        line,
        column: first_column + index,
        message,
    };
    while index < chars.len() {
        let c = chars[index];
        let column = first_column + index;
        if c.is_whitespace() {
            index += 1;
            continue;
        }
        if let Some(punct) = PUNCTUATION.iter().find(|punct| {
            punct
                .chars()
                .enumerate()
                .all(|(offset, pc)| chars.get(index + offset) == Some(&pc))
        }) {
            tokens.push(Token {
                kind: TokenKind::Punct(punct),
                column,
            });
            index += punct.len();
        } else if c.is_ascii_digit() {
            let start = index;
            while index < chars.len() && chars[index].is_ascii_alphanumeric() {
                index += 1;
            }
            let literal: String = chars[start..index].iter().collect();
            let value = parse_number(&literal)
                .ok_or_else(|| error(start, format!("invalid number `{literal}`")))?;
            tokens.push(Token {
                kind: TokenKind::Number(value),
                column,
            });
        } else if is_ident_start(c) {
            let start = index;
            while index < chars.len() && is_ident_continue(chars[index]) {
                index += 1;
            }
            tokens.push(Token {
                kind: TokenKind::Ident(chars[start..index].iter().collect()),
                column,
            });
        } else if c == '"' {
            let (bytes, used) = parse_string(&chars[index..])
                .map_err(|(offset, message)| error(index + offset, message))?;
            tokens.push(Token {
                kind: TokenKind::Str(bytes),
                column,
            });
            index += used;
        } else {
            return Err(error(index, format!("unexpected character `{c}`")));
        }
    }
    Ok(tokens)
}

/// Decimal, or hexadecimal with `0x`.
pub(super) fn parse_number(literal: &str) -> Option<u64> {
    match literal
        .strip_prefix("0x")
        .or_else(|| literal.strip_prefix("0X"))
    {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => literal.parse().ok(),
    }
}

/// Parses a string literal starting at `chars[0] == '"'`, returning its bytes
/// and how many characters it spans; errors carry the offending offset.
fn parse_string(chars: &[char]) -> Result<(Vec<u8>, usize), (usize, String)> {
    let mut bytes = Vec::new();
    let mut index = 1;
    loop {
        let c = *chars
            .get(index)
            .ok_or((0, "unterminated string".to_owned()))?;
        match c {
            '"' => return Ok((bytes, index + 1)),
            '\\' => {
                let escape = *chars
                    .get(index + 1)
                    .ok_or((index, "unterminated escape".to_owned()))?;
                index += 2;
                match escape {
                    'n' => bytes.push(b'\n'),
                    't' => bytes.push(b'\t'),
                    'r' => bytes.push(b'\r'),
                    '0' => bytes.push(0),
                    '\\' => bytes.push(b'\\'),
                    '"' => bytes.push(b'"'),
                    'x' => {
                        let hex: String = chars.iter().skip(index).take(2).collect();
                        let byte = u8::from_str_radix(&hex, 16)
                            .map_err(|_| (index - 2, format!("invalid escape `\\x{hex}`")))?;
                        bytes.push(byte);
                        index += 2;
                    }
                    other => return Err((index - 2, format!("unknown escape `\\{other}`"))),
                }
            }
            other => {
                let mut buffer = [0; 4];
                bytes.extend_from_slice(other.encode_utf8(&mut buffer).as_bytes());
                index += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_keep_helper_ids() {
        assert_eq!(
            strip_comment("call bpf_trace_printk#6 ; x"),
            "call bpf_trace_printk#6 "
        );
        assert_eq!(strip_comment("r0 = 0 # x"), "r0 = 0 ");
        assert_eq!(strip_comment("# whole line"), "");
        assert_eq!(strip_comment(".license \"a;b\" // c"), ".license \"a;b\" ");
    }

    #[test]
    fn signed_operators_are_single_tokens() {
        let tokens = tokenize("if r1 s>= r2 goto pc-3", 1, 1).unwrap();
        assert_eq!(tokens[2].kind, TokenKind::Punct("s>="));
        assert_eq!(tokens[2].column, 7);
        assert_eq!(tokens[6].kind, TokenKind::Punct("-"));
    }
}

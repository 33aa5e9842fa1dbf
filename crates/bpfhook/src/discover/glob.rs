//! Shell-style globs over whole lines: `*`, `?`, `[abc]`, `[a-z]`, `[!x]` and `\` escapes.
//!
//! Matching works on bytes: hook names are ASCII, and a byte matcher needs no decoding per line
//! (listing matches a glob against hundreds of thousands of lines). A `?` therefore matches one
//! byte of a multi-byte character in a path, which no hook name contains.

use std::fmt;

/// A parsed glob. Parsing is where malformed patterns are refused, so matching cannot fail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Glob {
    source: String,
    tokens: Vec<Token>,
    /// For a glob of only literals and stars (`*execve*`, `tracepoint:syscalls:*`, most of what
    /// people type), the literal pieces between the stars: matching is then a prefix check, a
    /// suffix check and substring searches, several times quicker than the general matcher.
    pieces: Option<Vec<Vec<u8>>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Byte(u8),
    /// `?`: any one byte.
    AnyByte,
    /// `*`: any run of bytes, empty included.
    AnyRun,
    /// `[...]`: inclusive byte ranges (a single byte is a range of one); `[!...]` negates.
    Class {
        negated: bool,
        ranges: Vec<(u8, u8)>,
    },
}

/// Why a pattern is not a glob.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed glob `{pattern}`: {reason}")]
pub struct GlobError {
    pub pattern: String,
    pub reason: &'static str,
}

impl Glob {
    pub fn new(pattern: &str) -> Result<Self, GlobError> {
        let error = |reason| GlobError {
            pattern: pattern.to_owned(),
            reason,
        };
        let bytes = pattern.as_bytes();
        let mut tokens = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            let token = match bytes[i] {
                b'*' => {
                    // Consecutive stars mean the same as one; keeping one keeps matching linear.
                    if tokens.last() != Some(&Token::AnyRun) {
                        tokens.push(Token::AnyRun);
                    }
                    i += 1;
                    continue;
                }
                b'?' => Token::AnyByte,
                b'\\' => {
                    i += 1;
                    match bytes.get(i) {
                        Some(&escaped) => Token::Byte(escaped),
                        None => return Err(error("it ends with a lone `\\`")),
                    }
                }
                b'[' => {
                    let (class, end) = parse_class(bytes, i + 1).map_err(error)?;
                    i = end;
                    tokens.push(class);
                    continue;
                }
                byte => Token::Byte(byte),
            };
            tokens.push(token);
            i += 1;
        }
        let pieces = literal_pieces(&tokens);
        Ok(Self {
            source: pattern.to_owned(),
            tokens,
            pieces,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the whole of `text` matches.
    pub fn matches(&self, text: &str) -> bool {
        match &self.pieces {
            Some(pieces) => match_pieces(pieces, text.as_bytes()),
            None => self.run(text.as_bytes(), false),
        }
    }

    /// Whether some text starting with `prefix` could match: lets a lister skip a whole source
    /// (`tracepoint:*` never needs kallsyms) by asking about the prefix all its lines share.
    pub fn could_match_prefix(&self, prefix: &str) -> bool {
        self.run(prefix.as_bytes(), true)
    }

    /// The classic two-cursor matcher: on a mismatch, retry from the last `*` with it swallowing
    /// one more byte. Only the last star needs remembering, since an earlier star's extra bytes
    /// could equally be swallowed by the later one; so the cost is O(pattern × text) at worst.
    /// With `prefix_only`, running out of text is success: the rest can be supplied.
    fn run(&self, text: &[u8], prefix_only: bool) -> bool {
        let (mut t, mut p) = (0, 0);
        let mut backtrack: Option<(usize, usize)> = None;
        loop {
            if t == text.len() {
                if prefix_only {
                    return true;
                }
                // Only stars may remain.
                return self.tokens[p..].iter().all(|tok| *tok == Token::AnyRun);
            }
            match self.tokens.get(p) {
                Some(Token::AnyRun) => {
                    backtrack = Some((p + 1, t));
                    p += 1;
                    continue;
                }
                Some(token) if token.matches(text[t]) => {
                    p += 1;
                    t += 1;
                    continue;
                }
                _ => {}
            }
            match backtrack {
                Some((star_next, star_text)) => {
                    let retry = star_text + 1;
                    backtrack = Some((star_next, retry));
                    p = star_next;
                    t = retry;
                }
                None => return false,
            }
        }
    }
}

impl fmt::Display for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl Token {
    fn matches(&self, byte: u8) -> bool {
        match self {
            Token::Byte(b) => *b == byte,
            Token::AnyByte => true,
            Token::AnyRun => true,
            Token::Class { negated, ranges } => {
                ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&byte)) != *negated
            }
        }
    }
}

/// The literal runs between stars (`*a*bc` → `["", "a", "bc"]`), if the glob has nothing else.
fn literal_pieces(tokens: &[Token]) -> Option<Vec<Vec<u8>>> {
    let mut pieces = vec![Vec::new()];
    for token in tokens {
        match token {
            Token::Byte(b) => pieces.last_mut()?.push(*b),
            Token::AnyRun => pieces.push(Vec::new()),
            Token::AnyByte | Token::Class { .. } => return None,
        }
    }
    Some(pieces)
}

/// Matches `first*middle…*last`: `first` anchored at the start, `last` at the end, each middle
/// piece at its leftmost place after the previous one (leftmost is never worse, since any later
/// match leaves less room for what follows).
fn match_pieces(pieces: &[Vec<u8>], text: &[u8]) -> bool {
    let [first, middle @ .., last] = pieces else {
        // A glob without stars is one piece: the text must equal it.
        return pieces.first().is_some_and(|only| only.as_slice() == text);
    };
    if text.len() < first.len() + last.len() || !text.starts_with(first) || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for piece in middle {
        match find(rest, piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    true
}

/// The first position of `needle` in `haystack`. Needles are short names and haystacks short
/// lines, so a scan that checks the first and last bytes before comparing the rest beats
/// calling into a general substring search for each of a few hundred thousand lines.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let (Some(&head), Some(&tail)) = (needle.first(), needle.last()) else {
        return Some(0);
    };
    let last_start = haystack.len().checked_sub(needle.len())?;
    (0..=last_start).find(|&start| {
        haystack[start] == head
            && haystack[start + needle.len() - 1] == tail
            && haystack[start..start + needle.len()]
                .iter()
                .zip(needle)
                .all(|(a, b)| a == b)
    })
}

/// Parses a class whose body starts at `start` (just after `[`); returns it and the index after
/// its `]`. As in fnmatch, a `]` right after `[` or `[!` is a member, not the end.
fn parse_class(bytes: &[u8], start: usize) -> Result<(Token, usize), &'static str> {
    let mut i = start;
    let negated = matches!(bytes.get(i), Some(b'!') | Some(b'^'));
    if negated {
        i += 1;
    }
    let body_start = i;
    let mut ranges = Vec::new();
    loop {
        let Some(&byte) = bytes.get(i) else {
            return Err("a `[` has no closing `]`");
        };
        if byte == b']' && i > body_start {
            return Ok((Token::Class { negated, ranges }, i + 1));
        }
        let (lo, after_lo) = class_byte(bytes, i)?;
        // `a-z` is a range; a `-` first or last in the class is itself.
        let is_range = bytes.get(after_lo) == Some(&b'-')
            && bytes.get(after_lo + 1).is_some_and(|&next| next != b']');
        if is_range {
            let (hi, after_hi) = class_byte(bytes, after_lo + 1)?;
            if hi < lo {
                return Err("a range in `[...]` runs backwards (write `[a-z]`, not `[z-a]`)");
            }
            ranges.push((lo, hi));
            i = after_hi;
        } else {
            ranges.push((lo, lo));
            i = after_lo;
        }
    }
}

/// One member byte of a class at `i`, unescaping `\x`; returns it and the index after it.
fn class_byte(bytes: &[u8], i: usize) -> Result<(u8, usize), &'static str> {
    match bytes.get(i) {
        Some(b'\\') => match bytes.get(i + 1) {
            Some(&escaped) => Ok((escaped, i + 2)),
            None => Err("it ends with a lone `\\`"),
        },
        Some(&byte) => Ok((byte, i + 1)),
        None => Err("a `[` has no closing `]`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob(pattern: &str) -> Glob {
        Glob::new(pattern).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn literals_question_marks_and_stars() {
        assert!(glob("kprobe:vfs_read").matches("kprobe:vfs_read"));
        assert!(!glob("kprobe:vfs_read").matches("kprobe:vfs_readv"));
        assert!(!glob("kprobe:vfs_read").matches("kprobe:vfs_rea"));
        assert!(glob("vfs_rea?").matches("vfs_read"));
        assert!(!glob("vfs_rea?").matches("vfs_rea"));
        assert!(glob("*").matches(""));
        assert!(glob("*").matches("anything:at:all"));
        assert!(glob("*execve*").matches("tracepoint:syscalls:sys_enter_execve"));
        assert!(glob("*execve*").matches("execve"));
        assert!(!glob("*execve*").matches("tracepoint:syscalls:sys_enter_exec"));
        assert!(glob("a**b").matches("ab"));
        assert!(glob("").matches(""));
        assert!(!glob("").matches("x"));
    }

    #[test]
    fn stars_backtrack() {
        // The first `ab` after the star is the wrong one; the matcher must retry further on.
        assert!(glob("*ab*abc").matches("xxabyyababc"));
        assert!(glob("a*b*c").matches("aXbYbZc"));
        assert!(!glob("a*b*c").matches("aXbYbZ"));
        assert!(glob("*a?c").matches("aaaabc"));
        assert!(glob("*.so.*").matches("libc.so.6"));
        // Pathological for naive recursion; the two-cursor matcher stays quick.
        let text = "a".repeat(200);
        assert!(!glob("*a*a*a*a*a*a*a*a*b").matches(&text));
    }

    #[test]
    fn the_literal_fast_path_agrees_with_the_general_matcher() {
        let patterns = [
            "*execve*", "a*b*c", "*ab*abc", "abc", "", "*", "**", "a*", "*a", "ab*ba",
        ];
        let texts = [
            "",
            "a",
            "ab",
            "aba",
            "abba",
            "abcabc",
            "xxabyyababc",
            "execve",
            "sys_execveat",
            "abab",
        ];
        for pattern in patterns {
            let g = glob(pattern);
            assert!(g.pieces.is_some(), "{pattern}");
            for text in texts {
                assert_eq!(
                    g.matches(text),
                    g.run(text.as_bytes(), false),
                    "{pattern} on {text}"
                );
            }
        }
        assert!(glob("a?c").pieces.is_none() && glob("[ab]").pieces.is_none());
        // "aba" must not match "ab*ba": prefix and suffix may not share the middle "b".
        assert!(!glob("ab*ba").matches("aba"));
    }

    #[test]
    fn classes_ranges_and_negation() {
        let digit = glob("sys_enter_[0-9]");
        assert!(digit.matches("sys_enter_7"));
        assert!(!digit.matches("sys_enter_x"));
        let set = glob("[abc]x");
        assert!(set.matches("bx") && !set.matches("dx"));
        let negated = glob("[!a-c]x");
        assert!(negated.matches("dx") && !negated.matches("ax"));
        assert!(glob("[^a]").matches("b"));
        // `]` first is a member; `-` first or last is literal.
        assert!(glob("[]]").matches("]"));
        assert!(glob("[!]]").matches("x") && !glob("[!]]").matches("]"));
        assert!(glob("[-a]").matches("-") && glob("[a-]").matches("-"));
        assert!(glob("[a-cx-z]").matches("y") && !glob("[a-cx-z]").matches("m"));
        assert!(glob("[[]").matches("["));
    }

    #[test]
    fn escapes_make_metacharacters_literal() {
        assert!(glob(r"a\*b").matches("a*b"));
        assert!(!glob(r"a\*b").matches("axb"));
        assert!(glob(r"\?").matches("?") && !glob(r"\?").matches("x"));
        assert!(glob(r"\[x]").matches("[x]"));
        assert!(glob(r"[\]]").matches("]"));
        assert!(glob(r"[a\-z]").matches("-") && !glob(r"[a\-z]").matches("m"));
    }

    #[test]
    fn prefixes_that_could_still_match() {
        let g = glob("tracepoint:syscalls:*");
        assert!(g.could_match_prefix("tracepoint:"));
        assert!(!g.could_match_prefix("kprobe:"));
        assert!(glob("*execve*").could_match_prefix("kprobe:"));
        assert!(glob("t?acepoint*").could_match_prefix("tracepoint:"));
        assert!(!glob("[!t]*").could_match_prefix("tracepoint:"));
        assert!(glob("kprobe").could_match_prefix("kpr"));
        assert!(!glob("kprobe").could_match_prefix("kprobex"));
    }

    #[test]
    fn malformed_globs_are_refused_with_a_reason() {
        for (pattern, reason) in [
            ("[abc", "no closing"),
            ("tracepoint:[", "no closing"),
            ("[]", "no closing"),
            ("[!", "no closing"),
            ("abc\\", "lone"),
            ("[a\\", "lone"),
            ("[z-a]", "backwards"),
        ] {
            let error = Glob::new(pattern).expect_err(pattern);
            assert_eq!(error.pattern, pattern);
            assert!(error.to_string().contains(reason), "{pattern}: {error}");
        }
    }
}

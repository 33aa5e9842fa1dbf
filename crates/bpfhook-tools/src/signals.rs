//! Signal names as `kill -l` prints them (without `SIG`), for the tools' columns and options.

const NAMES: [&str; 31] = [
    "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
    "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG",
    "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "POLL", "PWR", "SYS",
];

/// `KILL` for 9; real-time signals as `RTMIN+N`; else the number.
pub fn name(signal: i64) -> String {
    match signal {
        1..=31 => NAMES[signal as usize - 1].to_owned(),
        _ => {
            let rtmin = i64::from(libc::SIGRTMIN());
            if (rtmin..=i64::from(libc::SIGRTMAX())).contains(&signal) {
                format!("RTMIN+{}", signal - rtmin)
            } else {
                signal.to_string()
            }
        }
    }
}

/// A signal by number, name or `SIG`name.
pub fn parse(text: &str) -> Option<i64> {
    if let Ok(number) = text.parse::<i64>() {
        return (0..=i64::from(libc::SIGRTMAX()))
            .contains(&number)
            .then_some(number);
    }
    let upper = text.to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    NAMES.iter().position(|n| *n == bare).map(|i| i as i64 + 1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_and_numbers() {
        assert_eq!(super::name(9), "KILL");
        assert_eq!(super::name(15), "TERM");
        assert_eq!(super::parse("SIGTERM"), Some(15));
        assert_eq!(super::parse("kill"), Some(9));
        assert_eq!(super::parse("0"), Some(0));
        assert_eq!(super::parse("NOPE"), None);
        assert_eq!(super::parse("999"), None);
    }
}

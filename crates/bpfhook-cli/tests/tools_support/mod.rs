//! What the tools tests share: a tool running in the background with its lines read, guarded
//! child processes, and the napping target.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use bpfhook_testkit::{program_loaded, test_binary};

pub const BPFHOOK: &str = env!("CARGO_BIN_EXE_bpfhook");
/// Long enough for a loaded machine to compile, load and attach.
pub const READY: Duration = Duration::from_secs(20);

/// A tool running in the background, its stdout read line by line.
pub struct Running {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    pub fn start(args: &[&str]) -> Self {
        let mut child = Command::new(BPFHOOK)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawning bpfhook");
        let stdout = child.stdout.take().expect("piped stdout");
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// The first line (after those already seen) that `wanted` accepts, within `within`.
    pub fn line_where(&mut self, within: Duration, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if wanted(&line) {
                        return line;
                    }
                }
                Err(_) => panic!("no such line; output so far:\n{}", self.seen.join("\n")),
            }
        }
    }

    /// Ctrl-C, then the rest of the output; checks the tool exited 0 and detached everything.
    pub fn stop(self) -> Vec<String> {
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        self.finish()
    }

    /// Waits for the tool to end by itself.
    pub fn finish(mut self) -> Vec<String> {
        let status = self.child.wait().expect("bpfhook exits");
        self.seen.extend(self.lines.iter());
        assert!(
            status.success(),
            "{status}; output:\n{}",
            self.seen.join("\n")
        );
        assert!(
            !program_loaded(&format!("bt{}_0", self.child.id())),
            "a program stayed loaded"
        );
        std::mem::take(&mut self.seen)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A process killed and reaped when the test ends, however it ends.
pub struct Guarded(pub Child);

impl Drop for Guarded {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn columns(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

/// The test binary blocking in `bpfhook_nap` (2 ms sleeps) for a minute, or until the test ends.
pub fn napper() -> Guarded {
    Guarded(
        Command::new(test_binary("profile_target"))
            .args(["60", "nap"])
            .spawn()
            .expect("starting the napping target"),
    )
}

/// A veth pair whose peer end is down, its MAC address pinned on our end: a SYN to the peer
/// leaves and nothing answers, so TCP retransmits it after a second. (The entry goes with the
/// pair.)
pub fn silent_peer() -> bpfhook_testkit::VethPair {
    let pair = bpfhook_testkit::VethPair::new();
    let mac = pair.in_netns(&["cat", &format!("/sys/class/net/{}/address", pair.peer)]);
    bpfhook_testkit::sh(
        "ip",
        &[
            "neigh",
            "replace",
            &pair.peer_ip,
            "lladdr",
            mac.trim(),
            "dev",
            &pair.host,
            "nud",
            "permanent",
        ],
    );
    pair.in_netns(&["ip", "link", "set", &pair.peer, "down"]);
    pair
}

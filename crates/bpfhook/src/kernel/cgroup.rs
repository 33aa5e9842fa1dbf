//! Where the cgroup v2 hierarchy is mounted.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("no cgroup v2 hierarchy is mounted (no `cgroup2` line in /proc/mounts); mount one with `mount -t cgroup2 none /sys/fs/cgroup` or pass --cgroup PATH")]
    NoCgroup2,
    #[error("cannot read /proc/mounts: {0}")]
    Mounts(std::io::Error),
}

/// The mount point of the cgroup v2 hierarchy, from /proc/mounts.
pub fn cgroup2_root() -> Result<PathBuf, CgroupError> {
    let mounts = std::fs::read_to_string("/proc/mounts").map_err(CgroupError::Mounts)?;
    cgroup2_root_in(&mounts).ok_or(CgroupError::NoCgroup2)
}

fn cgroup2_root_in(mounts: &str) -> Option<PathBuf> {
    mounts.lines().find_map(|line| {
        let mut fields = line.split_whitespace();
        let (_source, target, fstype) = (fields.next()?, fields.next()?, fields.next()?);
        (fstype == "cgroup2").then(|| PathBuf::from(unescape_mount_path(target)))
    })
}

/// /proc/mounts writes spaces and a few other bytes as octal escapes (`\040`).
fn unescape_mount_path(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .and_then(|d| u8::from_str_radix(std::str::from_utf8(d).ok()?, 8).ok());
        match (bytes[i], octal) {
            (b'\\', Some(byte)) => {
                out.push(byte);
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_cgroup2_among_v1_mounts() {
        let mounts = "cgroup /sys/fs/cgroup/cpu cgroup rw 0 0\n\
                      cgroup2 /sys/fs/cgroup/my\\040root cgroup2 rw 0 0\n";
        assert_eq!(
            cgroup2_root_in(mounts),
            Some(PathBuf::from("/sys/fs/cgroup/my root"))
        );
        assert_eq!(cgroup2_root_in("proc /proc proc rw 0 0\n"), None);
    }
}

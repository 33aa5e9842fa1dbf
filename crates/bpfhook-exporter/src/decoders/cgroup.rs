//! `cgroup`: a cgroup v2 id (`bpf_get_current_cgroup_id()`) as the cgroup's path. On cgroup v2
//! the id is the inode number of the cgroup's directory, so a walk of the hierarchy names them;
//! a miss re-walks at most once a second (a new cgroup since the last walk).

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{unsigned, DecodeError, Decoded, Decoder};

const REWALK_AFTER: Duration = Duration::from_secs(1);

pub struct CgroupPaths {
    root: PathBuf,
    state: Mutex<Walked>,
}

#[derive(Default)]
struct Walked {
    paths: HashMap<u64, String>,
    at: Option<Instant>,
}

impl CgroupPaths {
    pub fn new(root: PathBuf) -> Self {
        Self {
            root,
            state: Mutex::new(Walked::default()),
        }
    }

    /// The cgroup's path below the root (`/system.slice/foo.service`), if it exists.
    pub fn path(&self, id: u64) -> Option<String> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(path) = state.paths.get(&id) {
            return Some(path.clone());
        }
        if state.at.is_none_or(|at| at.elapsed() >= REWALK_AFTER) {
            state.paths.clear();
            walk(&self.root, "", &mut state.paths);
            state.at = Some(Instant::now());
        }
        state.paths.get(&id).cloned()
    }
}

fn walk(dir: &Path, relative: &str, out: &mut HashMap<u64, String>) {
    let Ok(meta) = std::fs::metadata(dir) else {
        return;
    };
    out.insert(
        meta.ino(),
        if relative.is_empty() {
            "/".into()
        } else {
            relative.into()
        },
    );
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            let name = entry.file_name();
            let child = format!("{relative}/{}", name.to_string_lossy());
            walk(&entry.path(), &child, out);
        }
    }
}

pub struct Cgroup(pub Arc<CgroupPaths>);

impl Decoder for Cgroup {
    fn decode(&self, input: &[u8]) -> Result<Decoded, DecodeError> {
        let id = unsigned("cgroup", input)?;
        Ok(Some(
            self.0.path(id).unwrap_or_else(|| format!("unknown:{id}")),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_directories_by_inode() {
        let root = bpfhook_testkit::TempPath::dir("cgpaths");
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        let ino = std::fs::metadata(root.join("a/b")).unwrap().ino();
        let paths = Arc::new(CgroupPaths::new(root.path().to_path_buf()));
        let decoded = Cgroup(paths).decode(&ino.to_le_bytes()).unwrap();
        assert_eq!(decoded.as_deref(), Some("/a/b"));
    }
}

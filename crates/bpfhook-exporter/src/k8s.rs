//! Kubernetes labels from a cgroup path (chain them after the `cgroup` decoder): the kubelet
//! names a container's cgroup after its pod's UID and the container's ID, and its log
//! directory names both after the pod, namespace and container:
//!
//! - cgroup (systemd driver): `/kubepods.slice/kubepods-burstable.slice/
//!   kubepods-burstable-pod<UID with _>.slice/cri-containerd-<ID>.scope`
//! - cgroup (cgroupfs driver): `/kubepods/burstable/pod<UID>/<ID>`
//! - `/var/log/containers/<pod>_<namespace>_<container>-<ID>.log` (a link per container)
//! - `/var/log/pods/<namespace>_<pod>_<UID>/` (a directory per pod)
//!
//! No API server or CRI socket is needed: the DaemonSet mounts /var/log read-only. Outside a
//! pod (or before the kubelet wrote the links) the label is empty.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::decoders::{Context, DecodeError, Decoded, Decoder};

/// A miss is looked up again only after this long (the kubelet may not have linked it yet).
const RETRY_MISS: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy)]
pub enum Field {
    Pod,
    Namespace,
    Container,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodLabels {
    pub pod: String,
    pub namespace: String,
    pub container: String,
}

/// The pod UID and container ID a kubelet cgroup path names, if it is one.
pub fn parse_cgroup_path(path: &str) -> Option<(String, Option<String>)> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    if !parts.first()?.starts_with("kubepods") {
        return None;
    }
    let pod_index = parts.iter().position(|p| pod_uid(p).is_some())?;
    let uid = pod_uid(parts[pod_index])?;
    let container = parts.get(pod_index + 1).map(|c| container_id(c));
    Some((uid, container))
}

fn pod_uid(part: &str) -> Option<String> {
    // systemd: kubepods-burstable-pod1234_abcd.slice; cgroupfs: pod1234-abcd
    let systemd = part
        .strip_suffix(".slice")
        .and_then(|p| p.rsplit_once("-pod"))
        .map(|(_, uid)| uid.replace('_', "-"));
    systemd.or_else(|| part.strip_prefix("pod").map(str::to_owned))
}

fn container_id(part: &str) -> String {
    let part = part.strip_suffix(".scope").unwrap_or(part);
    ["cri-containerd-", "crio-", "docker-", "containerd-"]
        .iter()
        .find_map(|prefix| part.strip_prefix(prefix))
        .unwrap_or(part)
        .to_owned()
}

/// Reads the kubelet's log layout under `log_root` (normally `/var/log`).
pub struct Resolver {
    log_root: PathBuf,
    cache: Mutex<HashMap<String, (Option<PodLabels>, Instant)>>,
}

impl Resolver {
    pub fn new(log_root: PathBuf) -> Self {
        Self {
            log_root,
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub fn labels(&self, cgroup_path: &str) -> Option<PodLabels> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((found, at)) = cache.get(cgroup_path) {
            if found.is_some() || at.elapsed() < RETRY_MISS {
                return found.clone();
            }
        }
        let found = self.lookup(cgroup_path);
        cache.insert(cgroup_path.to_owned(), (found.clone(), Instant::now()));
        found
    }

    fn lookup(&self, cgroup_path: &str) -> Option<PodLabels> {
        let (uid, container) = parse_cgroup_path(cgroup_path)?;
        if let Some(id) = &container {
            if let Some(labels) = self.in_container_links(id) {
                return Some(labels);
            }
        }
        self.in_pod_dirs(&uid)
    }

    /// `<pod>_<namespace>_<container>-<ID>.log`: names cannot hold `_`, the ID holds no `-`.
    fn in_container_links(&self, id: &str) -> Option<PodLabels> {
        let suffix = format!("-{id}.log");
        std::fs::read_dir(self.log_root.join("containers"))
            .ok()?
            .flatten()
            .find_map(|entry| {
                let name = entry.file_name().into_string().ok()?;
                let stem = name.strip_suffix(&suffix)?;
                let mut fields = stem.splitn(3, '_');
                Some(PodLabels {
                    pod: fields.next()?.to_owned(),
                    namespace: fields.next()?.to_owned(),
                    container: fields.next()?.to_owned(),
                })
            })
    }

    /// `<namespace>_<pod>_<UID>/`: pod and namespace without the container.
    fn in_pod_dirs(&self, uid: &str) -> Option<PodLabels> {
        let suffix = format!("_{uid}");
        std::fs::read_dir(self.log_root.join("pods"))
            .ok()?
            .flatten()
            .find_map(|entry| {
                let name = entry.file_name().into_string().ok()?;
                let (namespace, pod) = name.strip_suffix(&suffix)?.split_once('_')?;
                Some(PodLabels {
                    pod: pod.to_owned(),
                    namespace: namespace.to_owned(),
                    container: String::new(),
                })
            })
    }
}

/// `k8s_pod`, `k8s_namespace`, `k8s_container`: one field of the pod a cgroup path belongs to.
pub struct K8sDecoder {
    field: Field,
    resolver: std::sync::Arc<Resolver>,
}

impl K8sDecoder {
    pub fn new(field: Field, context: &Context) -> Self {
        Self {
            field,
            resolver: context.k8s.clone(),
        }
    }
}

impl Decoder for K8sDecoder {
    fn decode(&self, input: &[u8]) -> Result<Decoded, DecodeError> {
        let path = String::from_utf8_lossy(input);
        let labels = self.resolver.labels(&path).unwrap_or_default();
        Ok(Some(match self.field {
            Field::Pod => labels.pod,
            Field::Namespace => labels.namespace,
            Field::Container => labels.container,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn both_cgroup_drivers() {
        let systemd = format!(
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod11_22.slice/cri-containerd-{ID}.scope"
        );
        assert_eq!(
            parse_cgroup_path(&systemd),
            Some(("11-22".into(), Some(ID.into())))
        );
        let cgroupfs = format!("/kubepods/besteffort/pod11-22/{ID}");
        assert_eq!(
            parse_cgroup_path(&cgroupfs),
            Some(("11-22".into(), Some(ID.into())))
        );
        assert_eq!(parse_cgroup_path("/system.slice/ssh.service"), None);
    }

    #[test]
    fn labels_from_the_kubelet_log_layout() {
        let root = bpfhook_testkit::TempPath::dir("k8slogs");
        std::fs::create_dir_all(root.join("containers")).unwrap();
        std::fs::create_dir_all(root.join("pods/shop_web-7d9_11-22")).unwrap();
        std::fs::write(
            root.join(&format!("containers/web-7d9_shop_nginx-side-{ID}.log")),
            "",
        )
        .unwrap();
        let resolver = Resolver::new(root.path().to_path_buf());
        let path = format!("/kubepods/pod11-22/{ID}");
        let labels = resolver.labels(&path).unwrap();
        assert_eq!(labels.pod, "web-7d9");
        assert_eq!(labels.namespace, "shop");
        assert_eq!(labels.container, "nginx-side");
        // Without the container link, the pod directory still names pod and namespace.
        let pod_only = resolver.labels("/kubepods/pod11-22/other").unwrap();
        assert_eq!(
            (pod_only.pod.as_str(), pod_only.container.as_str()),
            ("web-7d9", "")
        );
    }
}

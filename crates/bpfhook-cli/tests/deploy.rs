//! The Kubernetes manifests and the Dockerfile, checked without a cluster: no schema validator
//! installs from the package registries here (kubeconform and kubeval are Go binaries, not on
//! PyPI/npm/Debian), so the manifests are parsed and their important fields checked, and the
//! DaemonSet's own arguments run the real exporter on the ConfigMap's config.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

use bpfhook_testkit::{repo_root, TempPath};
use serde_json::Value;

fn manifest(name: &str) -> Value {
    let path = repo_root().join("deploy/kubernetes").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

#[test]
fn daemonset_has_least_privilege_mounts_and_scrape_annotations() {
    let ds = manifest("daemonset.yaml");
    assert_eq!(ds["kind"], "DaemonSet");
    let pod = &ds["spec"]["template"];
    let spec = &pod["spec"];
    assert_eq!(spec["hostPID"], false, "no example needs the host's pids");
    let container = &spec["containers"][0];
    let security = &container["securityContext"];
    assert_eq!(security["privileged"], false);
    assert_eq!(strings(&security["capabilities"]["drop"]), ["ALL"]);
    let caps = strings(&security["capabilities"]["add"]);
    for cap in ["BPF", "PERFMON", "SYS_RESOURCE"] {
        assert!(caps.contains(&cap), "{cap} missing from {caps:?}");
    }
    assert!(
        !caps.contains(&"SYS_ADMIN"),
        "SYS_ADMIN is not needed with --no-run-stats"
    );
    assert!(strings(&container["args"]).contains(&"--no-run-stats"));

    let mounts = container["volumeMounts"].as_array().expect("volumeMounts");
    let mount = |path: &str| {
        mounts
            .iter()
            .find(|m| m["mountPath"] == path)
            .unwrap_or_else(|| panic!("no mount at {path}"))
    };
    for read_only in [
        "/sys/kernel/btf",
        "/sys/fs/cgroup",
        "/sys/kernel/tracing",
        "/var/log",
    ] {
        assert_eq!(mount(read_only)["readOnly"], true, "{read_only}");
    }
    mount("/sys/fs/bpf");
    let volumes = spec["volumes"].as_array().expect("volumes");
    for m in mounts {
        assert!(
            volumes.iter().any(|v| v["name"] == m["name"]),
            "mount {} has no volume",
            m["name"]
        );
    }

    let port = &container["ports"][0];
    assert_eq!(port["containerPort"], 9435);
    let annotations = &pod["metadata"]["annotations"];
    assert_eq!(annotations["prometheus.io/scrape"], "true");
    assert_eq!(annotations["prometheus.io/port"], "9435");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/healthz");
    let config_volume = volumes
        .iter()
        .find(|v| v["name"] == "config")
        .expect("config volume");
    assert_eq!(
        config_volume["configMap"]["name"],
        manifest("configmap.yaml")["metadata"]["name"]
    );
    let service = manifest("service.yaml");
    assert_eq!(service["spec"]["ports"][0]["port"], 9435);
    assert_eq!(
        service["spec"]["selector"],
        ds["spec"]["selector"]["matchLabels"]
    );
}

#[test]
fn daemonset_args_run_the_configmap_config() {
    let ds = manifest("daemonset.yaml");
    let args: Vec<String> = strings(&ds["spec"]["template"]["spec"]["containers"][0]["args"])
        .into_iter()
        .map(str::to_owned)
        .collect();
    let dir = TempPath::dir("deploy-config");
    let data = manifest("configmap.yaml")["data"].clone();
    for (file, text) in data.as_object().expect("configmap data") {
        std::fs::write(dir.join(file), text.as_str().expect("text")).expect("writing");
    }
    // The DaemonSet's arguments, with the mount point and pod address replaced by this test's.
    let mut local = args.clone();
    let mut replace = |flag: &str, value: &str| {
        let at = local
            .iter()
            .position(|a| a == flag)
            .unwrap_or_else(|| panic!("no {flag}"));
        local[at + 1] = value.to_owned();
    };
    replace("--config.dir", dir.as_str());
    replace("--web.listen-address", "127.0.0.1:0");
    let names = &args[args
        .iter()
        .position(|a| a == "--config.names")
        .expect("names")
        + 1];
    let exec = repo_root().join("examples/exporter");
    for name in names
        .split(',')
        .filter(|n| !data.as_object().unwrap().contains_key(&format!("{n}.yaml")))
    {
        // Configs the DaemonSet names but the ConfigMap does not carry come from the examples.
        for file in [format!("{name}.yaml"), format!("{name}.bpf.c")] {
            std::os::unix::fs::symlink(exec.join(&file), dir.join(&file)).expect("link");
        }
        let _ = std::os::unix::fs::symlink(exec.join("maps.h"), dir.join("maps.h"));
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_bpfhook"))
        .arg("exporter")
        .args(&local)
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning the exporter");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let mut said = Vec::new();
    let address = stderr.by_ref().map_while(Result::ok).find_map(|line| {
        said.push(line.clone());
        line.split("listening on http://").nth(1).map(str::to_owned)
    });
    // Keep reading, so the exporter's later lines find a reader.
    std::thread::spawn(move || stderr.for_each(drop));
    let Some(address) = address else {
        let _ = child.kill();
        panic!("the exporter did not start:\n{}", said.join("\n"));
    };
    let mut body = String::new();
    for _ in 0..50 {
        let mut stream = TcpStream::connect(&address).expect("connect");
        write!(stream, "GET /metrics HTTP/1.0\r\n\r\n").expect("request");
        body.clear();
        stream.read_to_string(&mut body).expect("response");
        if body.contains("ebpf_exporter_pod_syscalls_total{") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().expect("exporter exits");
    // Outside a pod the k8s labels are empty; the syscall label names a real call.
    assert!(
        body.lines()
            .any(|l| l.starts_with("ebpf_exporter_pod_syscalls_total{")
                && l.contains("pod=\"\"")
                && (l.contains("syscall=\"read\"")
                    || l.contains("syscall=\"write\"")
                    || l.contains("syscall=\"openat\""))),
        "{}\n{body}",
        said.join("\n")
    );
    assert!(status.success(), "{status}");
}

#[test]
fn dockerfile_runs_the_exporter_on_shipped_examples() {
    let text = std::fs::read_to_string(repo_root().join("deploy/Dockerfile")).expect("Dockerfile");
    assert!(text.contains("EXPOSE 9435"));
    assert!(text.contains(r#"ENTRYPOINT ["/usr/local/bin/bpfhook", "exporter"]"#));
    let cmd = text.lines().find(|l| l.starts_with("CMD ")).expect("CMD");
    let cmd: Vec<String> = serde_json::from_str(&cmd[4..]).expect("CMD is a JSON array");
    let names = &cmd[cmd
        .iter()
        .position(|a| a == "--config.names")
        .expect("names")
        + 1];
    for name in names.split(',') {
        let yaml = repo_root().join(format!("examples/exporter/{name}.yaml"));
        assert!(yaml.is_file(), "the image's CMD names {name}, not shipped");
    }
}

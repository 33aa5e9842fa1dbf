//! `bpfhook exporter` as a fleet runs it: the real binary with the shipped examples, real execs
//! and packets, scraped over HTTP — once by a real Prometheus server. Bad configs fail with the
//! file and field; SIGTERM detaches everything.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bpfhook_testkit::{repo_root, spawn_fresh_executable, unique_name, TempPath, VethPair};

fn examples() -> PathBuf {
    repo_root().join("examples/exporter")
}

/// A running exporter; killed on drop if a test failed before stopping it.
struct Exporter {
    child: Child,
    address: String,
    stderr: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Exporter {
    /// Starts on a free port and waits for its `listening on` line.
    fn start(dir: &Path, names: &str) -> Exporter {
        let mut child = spawn(dir, names);
        let stderr = lines(child.stderr.take().expect("stderr"));
        let mut exporter = Exporter {
            child,
            address: String::new(),
            stderr,
            seen: Vec::new(),
        };
        let line = exporter.wait_for("listening on http://");
        exporter.address = line
            .rsplit("http://")
            .next()
            .expect("address")
            .trim()
            .to_owned();
        exporter
    }

    /// The next stderr line containing `text` (all lines read are kept in `seen`).
    fn wait_for(&mut self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.stderr.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(_) => break,
            }
        }
        panic!(
            "no `{text}` from the exporter; it said:\n{}",
            self.seen.join("\n")
        );
    }

    fn get(&self, path: &str) -> String {
        http_get(&self.address, path, None).1
    }

    fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid.
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, signal) }, 0);
    }

    /// SIGTERM, then the exit status.
    fn stop(mut self) -> ExitStatus {
        self.signal(libc::SIGTERM);
        self.child.wait().expect("waiting for the exporter")
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(dir: &Path, names: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_bpfhook"))
        .args(["exporter", "--config.dir"])
        .arg(dir)
        .args([
            "--config.names",
            names,
            "--web.listen-address",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning bpfhook exporter")
}

fn lines(stderr: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    receive
}

/// A GET over a fresh connection: (head, body).
fn http_get(address: &str, path: &str, accept: Option<&str>) -> (String, String) {
    let mut stream = TcpStream::connect(address).unwrap_or_else(|e| panic!("{address}: {e}"));
    let accept = accept
        .map(|a| format!("Accept: {a}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {address}\r\n{accept}\r\n"
    )
    .expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    (head.to_owned(), body.to_owned())
}

/// The value of the sample `name{…}` whose labels include every one of `labels`.
fn sample(metrics: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?.strip_prefix('{')?;
        let (label_text, value) = rest.split_once("} ")?;
        labels
            .iter()
            .all(|(k, v)| label_text.contains(&format!("{k}=\"{v}\"")))
            .then(|| value.trim().parse().ok())?
    })
}

/// Polls `read` until it returns `want` (or gives up after 20 s, showing the last value).
fn eventually<T: PartialEq + std::fmt::Debug>(want: T, mut read: impl FnMut() -> T) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = read();
        if got == want {
            return;
        }
        assert!(Instant::now() < deadline, "wanted {want:?}, still {got:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A copy of `true` with a unique name (its comm), exec'd `count` times.
struct Marker {
    _dir: TempPath,
    path: PathBuf,
    comm: String,
}

impl Marker {
    fn new() -> Marker {
        let dir = TempPath::dir("exporter-marker");
        let comm = unique_name("bhm");
        assert!(comm.len() < 16, "comm {comm} would be truncated");
        let path = dir.join(&comm);
        std::fs::copy("/usr/bin/true", &path).expect("copying true");
        Marker {
            _dir: dir,
            path,
            comm,
        }
    }

    fn exec(&self, count: usize) {
        for _ in 0..count {
            assert!(spawn_fresh_executable(&mut Command::new(&self.path))
                .wait()
                .expect("exec marker")
                .success());
        }
    }
}

fn programs(exporter: &Exporter) -> serde_json::Value {
    serde_json::from_str(&exporter.get("/programs")).expect("/programs is JSON")
}

/// The kernel ids of a config's attached programs, from /programs.
fn program_ids(page: &serde_json::Value, config: &str) -> Vec<u64> {
    page["configs"]
        .as_array()
        .expect("configs")
        .iter()
        .filter(|c| c["name"] == config)
        .flat_map(|c| c["programs"].as_array().cloned().unwrap_or_default())
        .filter_map(|p| p["id"].as_u64())
        .collect()
}

fn loaded(id: u64) -> bool {
    bpfhook::inspect::progs::run_stats(id as u32).is_ok()
}

const EXEC_COUNT: &str = "ebpf_exporter_exec_count_total";

#[test]
fn exec_counts_survive_reload_and_sigterm_detaches() {
    let marker = Marker::new();
    let mut exporter = Exporter::start(&examples(), "exec");
    assert_eq!(exporter.get("/healthz"), "ok\n");
    marker.exec(5);
    let comm = [("comm", marker.comm.as_str())];
    eventually(Some(5.0), || {
        sample(&exporter.get("/metrics"), EXEC_COUNT, &comm)
    });

    let page = programs(&exporter);
    let ids = program_ids(&page, "exec");
    assert_eq!(ids.len(), 1, "{page}");
    assert!(ids.iter().all(|&id| loaded(id)));
    let runs = sample(
        &exporter.get("/metrics"),
        "bpfhook_exporter_program_runs_total",
        &[("config", "exec"), ("program", "count_exec")],
    );
    assert!(runs.is_some_and(|r| r >= 5.0), "run count {runs:?}");

    // OpenMetrics when asked for, with its end marker.
    let (head, body) = http_get(
        &exporter.address,
        "/metrics",
        Some("application/openmetrics-text; version=1.0.0,text/plain;q=0.5"),
    );
    assert!(head.contains("application/openmetrics-text"), "{head}");
    assert!(body.ends_with("# EOF\n"));
    assert_eq!(sample(&body, EXEC_COUNT, &comm), Some(5.0));

    // SIGHUP with nothing changed keeps the same program and its counts.
    exporter.signal(libc::SIGHUP);
    exporter.wait_for("reloaded: kept [exec]");
    assert_eq!(program_ids(&programs(&exporter), "exec"), ids);
    marker.exec(1);
    eventually(Some(6.0), || {
        sample(&exporter.get("/metrics"), EXEC_COUNT, &comm)
    });

    let status = exporter.stop();
    assert!(status.success(), "{status}");
    assert!(ids.iter().all(|&id| !loaded(id)), "programs left loaded");
}

#[test]
fn xdp_counts_packets_by_protocol_over_veth() {
    let veth = VethPair::new();
    let dir = TempPath::dir("exporter-xdp");
    // The example, pointed at this test's interface; the program itself is shared (a link keeps
    // its path, so the compile cache hits).
    let yaml = std::fs::read_to_string(examples().join("xdp-proto.yaml")).expect("example yaml");
    let yaml = yaml.replace("iface: eth0", &format!("iface: {}", veth.host));
    // The same map again, one series per CPU, its fields named by the map's BTF.
    let per_cpu = "\n    - name: xdp_by_cpu\n      map: xdp_traffic\n      per_cpu: label\n      \
                   help: By CPU\n      labels:\n        - name: proto\n          \
                   size: 4\n          decoders: [{name: uint}]\nbpfhook:";
    let yaml = yaml.replace("\nbpfhook:", per_cpu);
    std::fs::write(dir.join("xdp-proto.yaml"), yaml).expect("writing yaml");
    for file in ["xdp-proto.bpf.c", "maps.h"] {
        std::os::unix::fs::symlink(examples().join(file), dir.join(file)).expect("link");
    }
    let exporter = Exporter::start(dir.path(), "xdp-proto");
    veth.udp_to_host(9999, 20);
    let udp = [("proto", "udp")];
    let packets = || {
        sample(
            &exporter.get("/metrics"),
            "ebpf_exporter_xdp_traffic_packets_total",
            &udp,
        )
    };
    eventually(Some(20.0), packets);
    // Ethernet 14 + IPv4 20 + UDP 8 + "ping\n" 5 bytes per frame.
    let bytes = sample(
        &exporter.get("/metrics"),
        "ebpf_exporter_xdp_traffic_bytes_total",
        &udp,
    );
    assert_eq!(bytes, Some(20.0 * 47.0));
    let metrics = exporter.get("/metrics");
    let by_cpu: Vec<&str> = metrics
        .lines()
        .filter(|l| {
            l.starts_with("ebpf_exporter_xdp_by_cpu_packets_total{") && l.contains("proto=\"17\"")
        })
        .collect();
    assert!(
        !by_cpu.is_empty() && by_cpu.iter().all(|l| l.contains("cpu=\"")),
        "{metrics}"
    );
    let total: f64 = by_cpu
        .iter()
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(total, 20.0, "per-CPU series add up to the sum");
    let entries = metrics
        .lines()
        .filter(|l| l.starts_with("bpfhook_exporter_map_entries{") && l.contains("xdp_traffic"))
        .count();
    assert_eq!(
        entries, 1,
        "one entries series for the map both metrics read"
    );
    let ids = program_ids(&programs(&exporter), "xdp-proto");
    assert_eq!(ids.len(), 1);
    assert!(exporter.stop().success());
    assert!(ids.iter().all(|&id| !loaded(id)), "XDP program left loaded");
}

/// A free TCP port on 127.0.0.1 (bound and released: Prometheus takes no port 0).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A Prometheus server with its own port and storage, killed on drop.
struct Prometheus {
    child: Child,
    address: String,
    _dir: TempPath,
}

impl Prometheus {
    fn scraping(target: &str) -> Prometheus {
        let dir = TempPath::dir("exporter-prometheus");
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: bpfhook\n    static_configs:\n      - targets: ['{target}']\n"
        );
        std::fs::write(dir.join("prometheus.yml"), config).expect("writing prometheus.yml");
        let address = format!("127.0.0.1:{}", free_port());
        let child = Command::new("/usr/bin/prometheus")
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={address}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("/usr/bin/prometheus (Debian package `prometheus`)");
        Prometheus {
            child,
            address,
            _dir: dir,
        }
    }

    /// The instant query's single value, if Prometheus answers and has one.
    fn query(&self, expression: &str) -> Option<f64> {
        let encoded: String = expression
            .bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect();
        let mut stream = TcpStream::connect(&self.address).ok()?;
        write!(
            stream,
            "GET /api/v1/query?query={encoded} HTTP/1.0\r\nHost: {}\r\n\r\n",
            self.address
        )
        .ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).ok()?;
        let body: serde_json::Value =
            serde_json::from_str(response.split_once("\r\n\r\n")?.1).ok()?;
        body["data"]["result"][0]["value"][1].as_str()?.parse().ok()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_real_prometheus_scrapes_the_marker_execs() {
    let marker = Marker::new();
    let exporter = Exporter::start(&examples(), "exec");
    let prometheus = Prometheus::scraping(&exporter.address);
    marker.exec(3);
    let query = format!("{EXEC_COUNT}{{comm=\"{}\"}}", marker.comm);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = None;
    while Instant::now() < deadline {
        last = prometheus.query(&query);
        if last == Some(3.0) {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(last, Some(3.0), "Prometheus's value of {query}");
    assert_eq!(
        prometheus.query("up{job=\"bpfhook\"}"),
        Some(1.0),
        "the scrape target is up"
    );
    assert!(exporter.stop().success());
}

fn fixtures_dir() -> PathBuf {
    repo_root().join("tests/bpf")
}

/// A config dir of broken configs, each a link to a real program where one is needed.
fn broken_configs() -> TempPath {
    let dir = TempPath::dir("exporter-bad");
    let link = |from: &Path, name: &str| {
        std::os::unix::fs::symlink(from, dir.join(name)).expect("link");
    };
    let exec_yaml = std::fs::read_to_string(examples().join("exec.yaml")).expect("exec.yaml");
    for name in ["unknown_decoder", "missing_map", "yaml_error"] {
        link(&examples().join("exec.bpf.c"), &format!("{name}.bpf.c"));
    }
    link(&examples().join("maps.h"), "maps.h");
    let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).expect("write");
    write(
        "unknown_decoder.yaml",
        &exec_yaml.replace("- name: string", "- name: strnig"),
    );
    write(
        "missing_map.yaml",
        &exec_yaml.replace("name: exec_count", "name: no_such_map"),
    );
    write("yaml_error.yaml", "metrics:\n  counters: [ {name: x\n");
    // A struct value (u64, char[16], enum) read without naming a field to read.
    link(
        &fixtures_dir().join("decode_maps.bpf.c"),
        "struct_value.bpf.c",
    );
    write(
        "struct_value.yaml",
        "metrics:\n  counters:\n    - name: by_pid\n      help: x\n",
    );
    // A program the verifier rejects (a map value used without a NULL check).
    let fixtures = fixtures_dir();
    link(&fixtures.join("bad_verifier.bpf.c"), "verifier.bpf.c");
    link(&fixtures.join("counters.h"), "counters.h");
    write(
        "verifier.yaml",
        "metrics:\n  counters:\n    - name: counts\n      help: x\n",
    );
    dir
}

#[test]
fn bad_configs_name_the_file_and_field_and_the_others_keep_running() {
    let dir = broken_configs();
    let expected = [
        (
            "unknown_decoder",
            "unknown_decoder.yaml: metrics.counters[0].labels[0].decoders[0].name: unknown decoder `strnig`",
        ),
        (
            "missing_map",
            "missing_map.yaml: metrics.counters[0].name: no map `no_such_map`",
        ),
        ("yaml_error", "yaml_error.yaml: "),
        (
            "struct_value",
            "struct_value.yaml: metrics.counters[0].values: map `by_pid` has 32-byte values",
        ),
        ("verifier", "verifier.bpf.c: program `bad_deref`"),
    ];
    for (name, message) in expected {
        let output = spawn(dir.path(), name)
            .wait_with_output()
            .expect("exporter runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{name}: {stderr}");
        assert!(
            stderr.contains(message),
            "{name}: expected `{message}` in:\n{stderr}"
        );
        assert!(stderr.contains("no config loaded"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    // With a good config beside them, the exporter serves the good one and shows the rest.
    std::os::unix::fs::symlink(examples().join("exec.yaml"), dir.join("exec.yaml")).expect("link");
    std::os::unix::fs::symlink(examples().join("exec.bpf.c"), dir.join("exec.bpf.c"))
        .expect("link");
    let names: Vec<&str> = expected.iter().map(|(n, _)| *n).collect();
    let exporter = Exporter::start(dir.path(), &format!("exec,{}", names.join(",")));
    let page = programs(&exporter);
    for (name, message) in expected {
        let config = page["configs"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["name"] == name))
            .unwrap_or_else(|| panic!("{name} missing from {page}"));
        assert_eq!(config["loaded"], false);
        let error = config["error"].as_str().unwrap_or_default();
        assert!(error.contains(message), "{name}: {error}");
    }
    let metrics = exporter.get("/metrics");
    let up = |config| {
        sample(
            &metrics,
            "bpfhook_exporter_config_loaded",
            &[("config", config)],
        )
    };
    assert_eq!(up("exec"), Some(1.0));
    assert!(names.iter().all(|n| up(n) == Some(0.0)), "{metrics}");
    let ids = program_ids(&page, "exec");
    assert!(exporter.stop().success());
    assert!(ids.iter().all(|&id| !loaded(id)));
}

#[test]
fn reload_swaps_a_changed_config_and_keeps_the_unchanged_one() {
    let dir = TempPath::dir("exporter-reload");
    for name in ["kept", "changed"] {
        let yaml = std::fs::read_to_string(examples().join("exec.yaml")).expect("exec.yaml");
        std::fs::write(dir.join(&format!("{name}.yaml")), yaml).expect("write");
        std::os::unix::fs::symlink(
            examples().join("exec.bpf.c"),
            dir.join(&format!("{name}.bpf.c")),
        )
        .expect("link");
    }
    std::os::unix::fs::symlink(examples().join("maps.h"), dir.join("maps.h")).expect("link");
    let mut exporter = Exporter::start(dir.path(), "kept,changed");
    let before = programs(&exporter);
    let yaml = dir.join("changed.yaml");
    let text = std::fs::read_to_string(&yaml).expect("read");
    std::fs::write(&yaml, text.replace("help: Successful execs", "help: Execs")).expect("write");
    exporter.signal(libc::SIGHUP);
    exporter.wait_for("reloaded: kept [kept], loaded [changed], failed []");
    let after = programs(&exporter);
    assert_eq!(program_ids(&after, "kept"), program_ids(&before, "kept"));
    let (old, new) = (
        program_ids(&before, "changed"),
        program_ids(&after, "changed"),
    );
    assert_eq!(new.len(), 1);
    assert_ne!(old, new, "the changed config was loaded anew");
    assert!(
        old.iter().all(|&id| !loaded(id)),
        "the old program was detached"
    );
    assert!(exporter
        .get("/metrics")
        .contains("# HELP ebpf_exporter_exec_count_total Execs"));
    assert!(exporter.stop().success());
}

#[test]
fn biolatency_histogram_counts_direct_writes() {
    let exporter = Exporter::start(&examples(), "biolatency");
    // O_DIRECT | O_DSYNC writes in the target directory (a real disk, not tmpfs).
    let file = repo_root().join(format!("target/{}.bio", unique_name("bio")));
    let _cleanup = TempPath::claim(&file);
    let status = Command::new("dd")
        .args([
            "if=/dev/zero",
            "bs=4k",
            "count=20",
            "oflag=direct,dsync",
            "status=none",
        ])
        .arg(format!("of={}", file.display()))
        .status()
        .expect("dd");
    assert!(status.success());
    let metrics = exporter.get("/metrics");
    let count: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("ebpf_exporter_bio_latency_seconds_count{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(
        count >= 20.0,
        "20 direct writes, {count} completions:\n{metrics}"
    );
    // The gauge: requests in flight, back near zero once dd is done (never negative).
    let in_flight: Vec<f64> = metrics
        .lines()
        .filter(|l| l.starts_with("ebpf_exporter_bio_in_flight{device=\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect();
    assert!(!in_flight.is_empty(), "{metrics}");
    assert!(
        in_flight.iter().all(|&n| (0.0..1000.0).contains(&n)),
        "{in_flight:?}"
    );
    assert!(metrics.contains("# TYPE ebpf_exporter_bio_in_flight gauge"));
    // Buckets are cumulative and end at the count.
    let mut previous = 0.0;
    for line in metrics
        .lines()
        .filter(|l| l.starts_with("ebpf_exporter_bio_latency_seconds_bucket{"))
    {
        let value: f64 = line
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse().ok())
            .expect("value");
        if line.contains("le=\"1e-06\"") {
            previous = 0.0; // the first bucket of the next device
        }
        assert!(value >= previous, "{line}");
        previous = value;
    }
    assert!(exporter.stop().success());
}

#[test]
fn max_series_caps_a_metric_and_counts_what_it_dropped() {
    let dir = TempPath::dir("exporter-cap");
    let yaml = std::fs::read_to_string(examples().join("exec.yaml")).expect("exec.yaml");
    let yaml = yaml.replace("      help:", "      max_series: 1\n      help:");
    std::fs::write(dir.join("capped.yaml"), yaml).expect("write");
    std::os::unix::fs::symlink(examples().join("exec.bpf.c"), dir.join("capped.bpf.c"))
        .expect("link");
    std::os::unix::fs::symlink(examples().join("maps.h"), dir.join("maps.h")).expect("link");
    let exporter = Exporter::start(dir.path(), "capped");
    // Two command names at least: the marker and `true`.
    let marker = Marker::new();
    marker.exec(1);
    assert!(Command::new("/usr/bin/true")
        .status()
        .expect("true")
        .success());
    let metrics = exporter.get("/metrics");
    let series = metrics
        .lines()
        .filter(|l| l.starts_with(&format!("{EXEC_COUNT}{{")))
        .count();
    assert_eq!(series, 1, "{metrics}");
    let dropped = sample(
        &metrics,
        "bpfhook_exporter_series_dropped",
        &[("config", "capped")],
    );
    assert!(dropped.is_some_and(|d| d >= 1.0), "dropped {dropped:?}");
    assert!(exporter.stop().success());
}

#[test]
fn every_shipped_tracepoint_example_loads_and_names_kernel_functions() {
    let exporter = Exporter::start(&examples(), "exec,timers,biolatency,tcp-retransmit");
    let metrics = exporter.get("/metrics");
    for config in ["exec", "timers", "biolatency", "tcp-retransmit"] {
        let up = sample(
            &metrics,
            "bpfhook_exporter_config_loaded",
            &[("config", config)],
        );
        assert_eq!(up, Some(1.0), "{config}");
    }
    // Timers start all the time; their callbacks come back as kernel function names.
    eventually(true, || {
        exporter.get("/metrics").lines().any(|l| {
            l.starts_with("ebpf_exporter_timer_starts_total{function=\"")
                && !l.contains("function=\"0x")
        })
    });
    assert!(exporter.stop().success());
}

#[test]
fn entries_a_decoder_rejects_are_counted_not_exported() {
    let dir = TempPath::dir("exporter-decode");
    let yaml = std::fs::read_to_string(examples().join("exec.yaml")).expect("exec.yaml");
    // Only `true` is in the table: every other command name is a decode error.
    let strict = "- name: string\n            - name: static_map\n              static_map: {\"true\": shell_true}";
    std::fs::write(
        dir.join("strict.yaml"),
        yaml.replace("- name: string", strict),
    )
    .expect("write");
    std::os::unix::fs::symlink(examples().join("exec.bpf.c"), dir.join("strict.bpf.c"))
        .expect("link");
    std::os::unix::fs::symlink(examples().join("maps.h"), dir.join("maps.h")).expect("link");
    let exporter = Exporter::start(dir.path(), "strict");
    let marker = Marker::new();
    marker.exec(2);
    assert!(Command::new("/usr/bin/true")
        .status()
        .expect("true")
        .success());
    let metrics = exporter.get("/metrics");
    // At least ours: other processes on the machine may run `true` too.
    let trues = sample(&metrics, EXEC_COUNT, &[("comm", "shell_true")]);
    assert!(trues.is_some_and(|t| t >= 1.0), "{metrics}");
    assert!(!metrics.contains(&marker.comm), "{metrics}");
    let errors = sample(
        &metrics,
        "bpfhook_exporter_decode_errors_total",
        &[("config", "strict")],
    );
    assert!(errors.is_some_and(|e| e >= 1.0), "decode errors {errors:?}");
    assert!(exporter.stop().success());
}

#[test]
fn a_config_beside_a_prebuilt_object_needs_no_source() {
    let dir = TempPath::dir("exporter-object");
    let object = dir.join("prebuilt.bpf.o");
    let built = Command::new(env!("CARGO_BIN_EXE_bpfhook"))
        .arg("build")
        .arg(examples().join("exec.bpf.c"))
        .arg("-o")
        .arg(&object)
        .output()
        .expect("bpfhook build");
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    std::fs::copy(examples().join("exec.yaml"), dir.join("prebuilt.yaml")).expect("copy");
    let exporter = Exporter::start(dir.path(), "prebuilt");
    let marker = Marker::new();
    marker.exec(2);
    let comm = [("comm", marker.comm.as_str())];
    eventually(Some(2.0), || {
        sample(&exporter.get("/metrics"), EXEC_COUNT, &comm)
    });
    assert!(exporter.stop().success());
}

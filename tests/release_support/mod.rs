//! Helpers of the HardenedRelease end-to-end tests: a `release-gate controller` process per
//! test namespace, TrustPolicies (deleted when the test ends), releases, status polling, and a
//! TCP proxy that stands for a registry that goes away and comes back.
#![allow(dead_code)]

use crate::evidence_support::KeyPair;
use crate::support;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use release_gate::api::{HardenedRelease, HardenedReleaseStatus, TrustPolicy};
use serde_json::json;
use std::time::{Duration, Instant};

/// How long a verdict may take: a registry round trip, a few signatures and a policy evaluation
/// take well under a second; the rest is headroom for a loaded two-core machine.
pub const VERDICT: Duration = Duration::from_secs(60);

/// A `release-gate controller` process for one test namespace, killed on drop.
pub struct Controller {
    child: std::process::Child,
    pub log: std::path::PathBuf,
    /// The port of its /healthz, /readyz and /metrics.
    pub health_port: u16,
}

impl Controller {
    /// The Prometheus text of its /metrics.
    pub async fn metrics(&self) -> String {
        self.try_metrics()
            .await
            .expect("the controller serves /metrics")
    }

    /// The Prometheus text of its /metrics; `None` while it does not serve them yet.
    pub async fn try_metrics(&self) -> Option<String> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", self.health_port))
            .await
            .ok()?;
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await
            .ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).await.ok()?;
        Some(out)
    }

    /// The controller's peak resident set size, in KiB (`VmHWM`).
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// The CPU time the controller has used so far (user and system), in seconds.
    pub fn cpu_seconds(&self) -> Option<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).ok()?;
        // Fields after the command name (which is in parentheses and may hold spaces): utime
        // and stime are the 12th and 13th, in clock ticks (100 a second on Linux).
        let rest = stat.rsplit_once(')')?.1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 =
            fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        Some(ticks as f64 / 100.0)
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        // The whole group: a profiler's wrapper does not pass the signal on.
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "controller log:\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
    }
}

pub fn policy_digest() -> String {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    release_gate::policy::Bundle::from_dir(&dir)
        .expect("the policy bundle loads")
        .digest()
}

pub fn start_controller(ns: &str, registry_host: &str, scratch: &std::path::Path) -> Controller {
    start_controller_with(ns, registry_host, scratch, &[])
}

/// [`start_controller`] with more flags (e.g. leader election).
pub fn start_controller_with(
    ns: &str,
    registry_host: &str,
    scratch: &std::path::Path,
    extra: &[&str],
) -> Controller {
    let health_port = support::free_port();
    let log = scratch.join(format!("controller-{ns}-{health_port}.log"));
    // RELEASE_GATE_CONTROLLER_WRAPPER runs the controller under a profiler, e.g.
    // "heaptrack -o /tmp/controller" (benchmarks only; split on spaces).
    let wrapper = std::env::var("RELEASE_GATE_CONTROLLER_WRAPPER").unwrap_or_default();
    let mut words = wrapper.split_whitespace();
    let mut command = match words.next() {
        Some(program) => {
            let mut c = std::process::Command::new(program);
            c.args(words).arg(env!("CARGO_BIN_EXE_release-gate"));
            c
        }
        None => std::process::Command::new(env!("CARGO_BIN_EXE_release-gate")),
    };
    // Its own process group, so that stopping it also stops what a wrapper started.
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let child = command
        .args([
            "controller",
            "--watch-namespace",
            ns,
            "--operator-namespace",
            ns,
        ])
        .args([
            "--controller-health-addr",
            &format!("127.0.0.1:{health_port}"),
        ])
        .args([
            "--insecure-registry",
            registry_host,
            "--registry-timeout",
            "5",
        ])
        .arg("--policy-bundle")
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies"))
        .args(["--policy-digest", &policy_digest()])
        .args(extra)
        .env("RUST_LOG", "info,release_gate=debug")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start the controller");
    Controller {
        child,
        log,
        health_port,
    }
}

pub fn pem(key: &KeyPair) -> String {
    std::fs::read_to_string(&key.public).unwrap()
}

/// Applies a TrustPolicy named `name` covering `images`, trusting `keys` (inline PEM).
pub async fn trust_policy(client: &Client, name: &str, images: &[String], keys: &[(&str, String)]) {
    let tp: TrustPolicy = serde_json::from_value(json!({
        "apiVersion": "releasegate.dev/v1alpha1", "kind": "TrustPolicy",
        "metadata": {"name": name},
        "spec": {
            "images": images,
            "keys": keys.iter().map(|(n, p)| json!({"name": n, "pem": p})).collect::<Vec<_>>(),
        }
    }))
    .unwrap();
    Api::<TrustPolicy>::all(client.clone())
        .patch(name, &PatchParams::apply("e2e").force(), &Patch::Apply(&tp))
        .await
        .unwrap_or_else(|e| panic!("cannot apply TrustPolicy {name}: {e}"));
}

/// Deletes cluster-scoped TrustPolicies when the test ends.
pub struct TrustPolicies(pub Vec<String>);

impl Drop for TrustPolicies {
    fn drop(&mut self) {
        let names = self.0.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let client = Client::try_default().await.unwrap();
                let api = Api::<TrustPolicy>::all(client);
                for n in names {
                    let _ = api.delete(&n, &Default::default()).await;
                }
            })
        })
        .join();
    }
}

pub async fn release(client: &Client, ns: &str, name: &str, image: &str, extra: serde_json::Value) {
    let mut spec = json!({"image": image});
    if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
        s.extend(e.clone());
    }
    let hr: HardenedRelease = serde_json::from_value(json!({
        "apiVersion": "releasegate.dev/v1alpha1", "kind": "HardenedRelease",
        "metadata": {"name": name}, "spec": spec
    }))
    .unwrap();
    Api::<HardenedRelease>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &hr)
        .await
        .unwrap_or_else(|e| panic!("cannot create HardenedRelease {name}: {e}"));
}

pub fn cond<'a>(
    s: &'a HardenedReleaseStatus,
    t: &str,
) -> Option<&'a k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition> {
    s.conditions.iter().find(|c| c.type_ == t)
}

/// Waits until the release's status satisfies `f`; panics with the last status otherwise.
pub async fn wait_status(
    client: &Client,
    ns: &str,
    name: &str,
    what: &str,
    f: impl Fn(&HardenedReleaseStatus) -> bool,
) -> HardenedReleaseStatus {
    let api = Api::<HardenedRelease>::namespaced(client.clone(), ns);
    let mut last = None;
    let deadline = Instant::now() + VERDICT;
    while Instant::now() < deadline {
        if let Ok(hr) = api.get(name).await
            && let Some(s) = hr.status
            && s.observed_generation == hr.metadata.generation
        {
            if f(&s) {
                return s;
            }
            last = Some(s);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{ns}/{name}: not {what} within {VERDICT:?}; last status: {last:#?}");
}

pub fn verified(s: &HardenedReleaseStatus) -> bool {
    s.phase == Some(release_gate::api::ReleasePhase::Verified)
        && cond(s, "Ready").is_some_and(|c| c.status == "True")
}

pub fn blocked(s: &HardenedReleaseStatus) -> bool {
    s.phase == Some(release_gate::api::ReleasePhase::Blocked)
        && cond(s, "Ready").is_some_and(|c| c.status == "False")
}

pub fn is(s: &HardenedReleaseStatus, t: &str, status: &str, reason: &str) -> bool {
    cond(s, t).is_some_and(|c| c.status == status && c.reason == reason)
}

/// A TCP proxy in front of the registry that the test can stop and start: what the controller
/// sees when the registry goes away (connections refused) and comes back on the same address.
pub struct Proxy {
    pub host: String,
    upstream: String,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Proxy {
    pub async fn start(upstream: &str) -> Self {
        let port = support::free_port();
        let mut p = Self {
            host: format!("127.0.0.1:{port}"),
            upstream: upstream.into(),
            task: None,
        };
        p.resume().await;
        p
    }

    pub async fn resume(&mut self) {
        let listener = tokio::net::TcpListener::bind(&self.host).await.unwrap();
        let upstream = self.upstream.clone();
        self.task = Some(tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                let upstream = upstream.clone();
                conns.spawn(async move {
                    if let Ok(mut out) = tokio::net::TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                    }
                });
            }
        }));
    }

    /// Stops listening and cuts every open connection (the JoinSet aborts them on drop).
    pub async fn stop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
    }
}

//! The CanaryDrill end-to-end harness: a controller process per test (watching only the
//! test's namespace), a target Deployment on the kwok node, a CloudEvents sink (a local HTTP
//! server that checks signatures), and readers for drills, Decisions, Events and metrics.
#![allow(dead_code)]

#[path = "../support/mod.rs"]
pub mod support;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{ListParams, PostParams};
use kube::{Api, Client};
use release_gate::api::{CanaryDrill, Decision, DrillPhase};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;
#[allow(unused_imports)]
pub use support::{TestNamespace, apply_crds, client, free_port, kubectl, wait_until};

/// A controller process watching one namespace; killed when dropped.
pub struct ControllerProcess {
    pub namespace: String,
    pub child: tokio::process::Child,
    pub metrics_port: u16,
    pub log: std::path::PathBuf,
}

impl ControllerProcess {
    pub fn start(namespace: &str) -> Self {
        let metrics_port = free_port();
        let log = std::env::temp_dir().join(format!("release-gate-{namespace}-{metrics_port}.log"));
        let file = std::fs::File::create(&log).expect("controller log file");
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_release-gate"))
            .args(["controller", "--watch-namespace", namespace])
            .args([
                "--controller-health-addr",
                &format!("127.0.0.1:{metrics_port}"),
            ])
            .env("RELEASE_GATE_LOG", "info,release_gate=debug")
            .stderr(file)
            .kill_on_drop(true)
            .spawn()
            .expect("start the controller");
        Self {
            namespace: namespace.into(),
            child,
            metrics_port,
            log,
        }
    }

    /// SIGKILL: no shutdown code runs.
    pub async fn kill9(&mut self) {
        let pid = self.child.id().expect("running").to_string();
        let st = std::process::Command::new("kill")
            .args(["-KILL", &pid])
            .status()
            .unwrap();
        assert!(st.success());
        let _ = self.child.wait().await;
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub async fn metrics(&self) -> String {
        http_get(self.metrics_port, "/metrics").await
    }
}

impl Drop for ControllerProcess {
    /// Without the controller nobody removes the drills' finalizers, and the test namespace
    /// would stay Terminating: strip them (synchronously, the runtime may be ending).
    fn drop(&mut self) {
        // First stop it, or it would put the finalizers back.
        let _ = self.child.start_kill();
        // Wait until it is gone: a request it sent just before could still land after.
        for _ in 0..50 {
            if !matches!(self.child.try_wait(), Ok(None)) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let Ok(out) = std::process::Command::new("kubectl")
            .args(["get", "canarydrills", "-n", &self.namespace, "-o", "name"])
            .output()
        else {
            return;
        };
        for name in String::from_utf8_lossy(&out.stdout).lines() {
            let _ = std::process::Command::new("kubectl")
                .args(["patch", name, "-n", &self.namespace, "--type=merge"])
                .args(["-p", r#"{"metadata":{"finalizers":null}}"#])
                .output();
        }
    }
}

/// A minimal HTTP GET over a raw socket.
pub async fn http_get(port: u16, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return String::new();
    };
    let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).await.is_err() {
        return String::new();
    }
    let mut out = String::new();
    let _ = s.read_to_string(&mut out).await;
    out
}

/// Creates Deployment `name` with `replicas` of `image` and waits until all are Ready.
pub async fn ready_deployment(
    client: &Client,
    ns: &str,
    name: &str,
    replicas: i32,
    image: &str,
) -> Deployment {
    let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
    let dep: Deployment = serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": image}]}
            }
        }
    }))
    .unwrap();
    api.create(&PostParams::default(), &dep).await.unwrap();
    wait_ready(client, ns, name, replicas).await
}

/// Waits until Deployment `name` has `replicas` updated, available replicas.
pub async fn wait_ready(client: &Client, ns: &str, name: &str, replicas: i32) -> Deployment {
    let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
    wait_until(Duration::from_secs(90), || {
        let api = api.clone();
        async move {
            let d = api.get(name).await.ok()?;
            let s = d.status.clone()?;
            (s.available_replicas == Some(replicas) && s.updated_replicas == Some(replicas))
                .then_some(d)
        }
    })
    .await
    .unwrap_or_else(|| {
        panic!("Deployment {ns}/{name} not ready with {replicas} replicas within 90s")
    })
}

/// Creates a drill with `spec`.
pub async fn create_drill(client: &Client, ns: &str, name: &str, spec: serde_json::Value) {
    let api: Api<CanaryDrill> = Api::namespaced(client.clone(), ns);
    let d: CanaryDrill = serde_json::from_value(json!({
        "apiVersion": "releasegate.dev/v1alpha1", "kind": "CanaryDrill",
        "metadata": {"name": name}, "spec": spec
    }))
    .unwrap_or_else(|e| panic!("drill spec: {e}"));
    api.create(&PostParams::default(), &d)
        .await
        .unwrap_or_else(|e| panic!("create drill {name}: {e}"));
}

pub async fn get_drill(client: &Client, ns: &str, name: &str) -> CanaryDrill {
    Api::<CanaryDrill>::namespaced(client.clone(), ns)
        .get(name)
        .await
        .unwrap()
}

/// Waits until the drill reaches `phase` and has carried out its effects; panics with its
/// status and the controller log if not.
pub async fn wait_phase(
    client: &Client,
    ns: &str,
    name: &str,
    phase: DrillPhase,
    timeout: Duration,
    controller: &ControllerProcess,
) -> CanaryDrill {
    let api: Api<CanaryDrill> = Api::namespaced(client.clone(), ns);
    let got = wait_until(timeout, || {
        let api = api.clone();
        async move {
            let d = api.get(name).await.ok()?;
            // The phase, and the effects it decided carried out (Events published, ...).
            let st = d.status.as_ref()?;
            (st.phase == Some(phase) && st.pending_actions.is_empty()).then_some(d)
        }
    })
    .await;
    match got {
        Some(d) => d,
        None => {
            let d = api.get(name).await.ok();
            panic!(
                "drill {ns}/{name} did not reach {phase:?} within {timeout:?}; status: {}\ncontroller log:\n{}",
                serde_json::to_string_pretty(&d.and_then(|d| d.status)).unwrap(),
                tail(&controller.logs(), 60)
            )
        }
    }
}

pub fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The rollback Decisions of a drill.
pub async fn decisions_of(client: &Client, ns: &str, drill: &str) -> Vec<Decision> {
    Api::<Decision>::namespaced(client.clone(), ns)
        .list(&ListParams::default().labels(&format!("releasegate.dev/drill={drill}")))
        .await
        .unwrap()
        .items
}

/// Reasons of the Kubernetes Events about a drill, oldest first.
pub async fn event_reasons(client: &Client, ns: &str, drill: &str) -> Vec<String> {
    let api: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(client.clone(), ns);
    let mut evs: Vec<_> = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(drill))
        .collect();
    evs.sort_by_key(|e| e.event_time.as_ref().map(|t| t.0));
    evs.into_iter().filter_map(|e| e.reason).collect()
}

/// One CloudEvent as the sink received it.
#[derive(Clone, Debug)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: std::time::Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    }
}

/// A CloudEvents sink on a loopback port that records every POST.
pub struct Sink {
    pub url: String,
    pub received: Arc<Mutex<Vec<Received>>>,
}

impl Sink {
    pub async fn start() -> Self {
        Self::start_on(0).await
    }

    /// A sink on a given loopback port (0: any free one).
    pub async fn start_on(port: u16) -> Self {
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let app = Router::new()
            .route(
                "/",
                post(
                    |State(r): State<Arc<Mutex<Vec<Received>>>>,
                     headers: HeaderMap,
                     body: Bytes| async move {
                        r.lock().unwrap().push(Received {
                            headers,
                            body,
                            at: std::time::Instant::now(),
                        });
                        axum::http::StatusCode::ACCEPTED
                    },
                ),
            )
            .with_state(received.clone());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url: format!("http://127.0.0.1:{port}/"),
            received,
        }
    }

    pub fn events(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// The ce-type of every distinct event (by idempotency key), in arrival order.
    pub fn types(&self) -> Vec<String> {
        let mut seen = std::collections::HashSet::new();
        self.events()
            .into_iter()
            .filter(|e| seen.insert(e.header("idempotency-key")))
            .map(|e| e.header("ce-type"))
            .collect()
    }
}

/// Creates a Secret holding an HMAC key.
pub async fn hmac_secret(client: &Client, ns: &str, name: &str, key: &str) {
    let api: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(client.clone(), ns);
    let s = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
        "stringData": {"key": key}
    }))
    .unwrap();
    api.create(&PostParams::default(), &s).await.unwrap();
}

/// The value of a metric line starting with `prefix` (name and labels), if present.
pub fn metric(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// Seconds between two Kubernetes times.
pub fn secs(
    a: &k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime,
    b: &k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime,
) -> f64 {
    b.0.duration_since(a.0).as_secs_f64()
}

//! CanaryDrill end to end with a real Prometheus (Debian's `prometheus`, installed by the test
//! bed) scraping two small local HTTP processes, one per revision, whose error rate and
//! latency the test sets: kwok's Pods run no containers, so the scraped workload runs beside
//! them, carrying the labels of the canary and of the stable Deployment. The drill's PromQL
//! templates get those labels substituted.
//!
//! Ignored by a plain `cargo test`; `make test` runs them with KUBECONFIG set.

mod e2e_drill_support;

use e2e_drill_support::*;
use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use release_gate::api::{DrillPhase, Track, WindowVerdict};
use serde_json::json;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

/// A workload process: counters that grow at `rps` requests per second, a share `error_rate`
/// of them 500s, every request taking `latency_s`, in the Prometheus text format.
const WORKLOAD: &str = r##"
import http.server, sys, time
port, rps, err, lat = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
start = time.time()
buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        n = rps * (time.time() - start)
        e = n * err
        out = ["# TYPE http_requests_total counter",
               'http_requests_total{code="200"} %f' % (n - e),
               'http_requests_total{code="500"} %f' % e,
               "# TYPE http_request_duration_seconds histogram"]
        for b in buckets:
            out.append('http_request_duration_seconds_bucket{le="%s"} %f' % (b, n if lat <= b else 0))
        out += ['http_request_duration_seconds_bucket{le="+Inf"} %f' % n,
                "http_request_duration_seconds_sum %f" % (n * lat),
                "http_request_duration_seconds_count %f" % n]
        body = ("\n".join(out) + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
"##;

/// A workload process for one revision.
struct Workload {
    port: u16,
    _child: tokio::process::Child,
}

impl Workload {
    fn start(dir: &Path, rps: f64, error_rate: f64, latency_s: f64) -> Self {
        let script = dir.join("workload.py");
        std::fs::write(&script, WORKLOAD).unwrap();
        let port = free_port();
        let child = tokio::process::Command::new("python3")
            .arg(&script)
            .args([
                port.to_string(),
                rps.to_string(),
                error_rate.to_string(),
                latency_s.to_string(),
            ])
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 runs the workload");
        Self {
            port,
            _child: child,
        }
    }
}

/// A Prometheus scraping workloads every second; its targets and their labels come from a
/// file (file_sd), so a test can add a revision once its labels are known.
struct Prometheus {
    url: String,
    port: u16,
    targets: std::path::PathBuf,
    log: std::path::PathBuf,
    _child: tokio::process::Child,
}

impl Prometheus {
    /// Starts it with no targets.
    async fn launch(dir: &Path) -> Self {
        let port = free_port();
        let targets = dir.join("targets.json");
        std::fs::write(&targets, "[]").unwrap();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n\
             - job_name: workload\n  file_sd_configs:\n  - files: ['{}']\n",
            targets.display()
        );
        let cfg = dir.join("prometheus.yml");
        std::fs::write(&cfg, config).unwrap();
        let log = dir.join("prometheus.log");
        let child = tokio::process::Command::new("prometheus")
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stderr(std::fs::File::create(&log).unwrap())
            .kill_on_drop(true)
            .spawn()
            .expect("Debian's prometheus on PATH (e2e/tools/install.sh installs it)");
        Self {
            url: format!("http://127.0.0.1:{port}"),
            port,
            targets,
            log,
            _child: child,
        }
    }

    /// Replaces the scraped targets: (workload, its labels).
    fn set_targets(&self, targets: &[(&Workload, serde_json::Value)]) {
        let sd: Vec<_> = targets
            .iter()
            .map(|(w, labels)| json!({"targets": [format!("127.0.0.1:{}", w.port)], "labels": labels}))
            .collect();
        let tmp = self.targets.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_vec(&sd).unwrap()).unwrap();
        std::fs::rename(&tmp, &self.targets).unwrap();
    }

    /// Waits until `n` targets were scraped at least twice (rate() needs two samples).
    async fn wait_scraped(&self, n: usize) {
        let port = self.port;
        let want = format!(r#","{n}"]"#);
        let up = wait_until(Duration::from_secs(60), || {
            let want = want.clone();
            async move {
                let body = http_get(
                    port,
                    "/api/v1/query?query=count(count_over_time(up%5B1m%5D)%3E%3D2)",
                )
                .await;
                body.contains(&want).then_some(())
            }
        })
        .await;
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        assert!(
            up.is_some(),
            "Prometheus did not scrape {n} workloads within 60s:\n{}",
            tail(&log, 30)
        );
    }

    /// Starts it scraping the stable and the canary workload, labelled by Deployment and track.
    async fn start(dir: &Path, ns: &str, stable: &Workload, canary: &Workload) -> Self {
        let p = Self::launch(dir).await;
        p.set_targets(&[
            (
                stable,
                json!({"namespace": ns, "deployment": "web", "track": "stable"}),
            ),
            (
                canary,
                json!({"namespace": ns, "deployment": "web-canary", "track": "canary"}),
            ),
        ]);
        p.wait_scraped(2).await;
        p
    }
}

/// The `pod-template-hash` of a Deployment's ReplicaSet (the newest one).
async fn pod_template_hash(client: &kube::Client, ns: &str, selector: &str) -> Option<String> {
    let rs: Api<k8s_openapi::api::apps::v1::ReplicaSet> = Api::namespaced(client.clone(), ns);
    let list = rs
        .list(&kube::api::ListParams::default().labels(selector))
        .await
        .ok()?;
    list.items
        .into_iter()
        .max_by_key(|r| r.metadata.creation_timestamp.clone().map(|t| t.0))?
        .metadata
        .labels?
        .get("pod-template-hash")
        .cloned()
}

fn prometheus_source(url: &str) -> serde_json::Value {
    let sel = r#"namespace="$namespace",deployment="$deployment",track="$track""#;
    json!({"prometheus": {
        "address": url,
        "errorRateQuery": format!(
            r#"sum(rate(http_requests_total{{code="500",{sel}}}[$window])) / sum(rate(http_requests_total{{{sel}}}[$window]))"#
        ),
        "latencyQuery": format!(
            r#"1000 * histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{{{sel}}}[$window])))"#
        ),
        "requestsQuery": format!(r#"sum(increase(http_requests_total{{{sel}}}[$window]))"#)
    }})
}

fn spec(url: &str) -> serde_json::Value {
    json!({
        "target": {"name": "web"},
        "canary": {"image": "registry.example.com/team/web:2"},
        "budget": {"maxErrorRate": 0.05, "maxLatencyMs": 300, "minRequests": 20},
        "window": "4s",
        "successWindows": 2,
        "owner": "team-web",
        "metrics": prometheus_source(url)
    })
}

#[tokio::test]
#[ignore = "needs the real test bed: make test"]
async fn a_bad_canary_measured_by_prometheus_is_rolled_back_and_the_stable_one_proves_recovery() {
    let client = client().await;
    apply_crds(&client).await;
    let ns = TestNamespace::new(&client, "drill-prom-fail").await;
    let dir = tempfile::tempdir().unwrap();
    // Stable: 0.2 % errors, 50 ms. Canary: 30 % errors, 900 ms.
    let stable = Workload::start(dir.path(), 50.0, 0.002, 0.05);
    let canary = Workload::start(dir.path(), 50.0, 0.3, 0.9);
    let prom = Prometheus::start(dir.path(), &ns.name, &stable, &canary).await;
    let before = ready_deployment(
        &client,
        &ns.name,
        "web",
        3,
        "registry.example.com/team/web:1",
    )
    .await;
    let sink = Sink::start().await;
    let controller = ControllerProcess::start(&ns.name);
    let mut s = spec(&prom.url);
    s["eventSink"] = json!({"url": sink.url});
    create_drill(&client, &ns.name, "prom", s).await;

    let d = wait_phase(
        &client,
        &ns.name,
        "prom",
        DrillPhase::Restored,
        Duration::from_secs(120),
        &controller,
    )
    .await;
    let st = d.status.unwrap();
    let w: Vec<_> = st.windows.iter().map(|w| (w.track, w.verdict)).collect();
    assert_eq!(
        w,
        vec![
            (Track::Canary, WindowVerdict::Breach),
            (Track::Canary, WindowVerdict::Breach),
            (Track::Stable, WindowVerdict::Pass)
        ],
        "{st:#?}"
    );
    let first = &st.windows[0];
    let rate = first.error_rate.unwrap();
    assert!(
        (rate - 0.3).abs() < 0.02,
        "canary error rate measured {rate}"
    );
    assert!(first.latency_ms.unwrap() > 300.0, "{first:?}");
    assert!(first.requests.unwrap() >= 20.0, "{first:?}");
    let q = first.query.as_deref().unwrap();
    assert!(
        q.contains(r#"deployment="web-canary",track="canary""#) && q.contains("[4s]"),
        "{q}"
    );
    let stable_w = &st.windows[2];
    assert!(
        stable_w.error_rate.unwrap() < 0.05 && stable_w.latency_ms.unwrap() < 300.0,
        "{stable_w:?}"
    );
    assert!(
        stable_w
            .query
            .as_deref()
            .unwrap()
            .contains(r#"deployment="web",track="stable""#)
    );

    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns.name);
    let after = deployments.get("web").await.unwrap();
    assert_eq!(after.spec.unwrap().template, before.spec.unwrap().template);
    assert_eq!(decisions_of(&client, &ns.name, "prom").await.len(), 1);
    let ok = wait_until(Duration::from_secs(15), || async {
        (sink.types().len() >= 5).then_some(())
    })
    .await;
    assert!(ok.is_some(), "{:?}", sink.types());
    assert_eq!(
        sink.types(),
        [
            "dev.releasegate.drill.start",
            "dev.releasegate.drill.breach",
            "dev.releasegate.drill.breach",
            "dev.releasegate.drill.rollback",
            "dev.releasegate.drill.restore"
        ]
    );
    let (end2, rolled, restored) = (
        st.windows[1].end.clone(),
        st.rolled_back_time.clone().unwrap(),
        st.restored_time.clone().unwrap(),
    );
    let to_rolled_back = secs(&end2, &rolled);
    let beyond = secs(&rolled, &restored) - 4.0;
    eprintln!(
        "FIGURES prometheus fail path (window 4s, breachWindows 2, recoveryWindows 1): end of 2nd breached \
         window -> breach detected {:.3}s, -> RolledBack {to_rolled_back:.3}s, RolledBack -> Restored {:.3}s \
         ({beyond:.3}s beyond the recovery window), MTTR {}",
        secs(&end2, st.breach_time.as_ref().unwrap()),
        secs(&rolled, &restored),
        st.mttr.as_deref().unwrap_or("?")
    );
    assert!(to_rolled_back < 5.0, "{to_rolled_back}");
    assert!(beyond < 5.0, "{beyond}");
    let m = controller.metrics().await;
    let labels = format!("{{namespace=\"{}\",drill=\"prom\"}}", ns.name);
    assert_eq!(
        metric(&m, &format!("releasegate_drill_mttr_seconds_count{labels}")),
        Some(1.0),
        "{m}"
    );
}

#[tokio::test]
#[ignore = "needs the real test bed: make test"]
async fn a_good_canary_measured_by_prometheus_is_promoted_and_a_silent_one_pauses() {
    let client = client().await;
    apply_crds(&client).await;
    let ns = TestNamespace::new(&client, "drill-prom-pass").await;
    let dir = tempfile::tempdir().unwrap();
    let stable = Workload::start(dir.path(), 50.0, 0.002, 0.05);
    let canary = Workload::start(dir.path(), 50.0, 0.01, 0.08);
    let prom = Prometheus::start(dir.path(), &ns.name, &stable, &canary).await;
    ready_deployment(
        &client,
        &ns.name,
        "web",
        2,
        "registry.example.com/team/web:1",
    )
    .await;
    ready_deployment(
        &client,
        &ns.name,
        "idle",
        1,
        "registry.example.com/team/idle:1",
    )
    .await;
    let controller = ControllerProcess::start(&ns.name);
    create_drill(&client, &ns.name, "good", spec(&prom.url)).await;
    // A drill whose canary nobody scrapes: every window has no data, and pauses.
    let mut silent = spec(&prom.url);
    silent["target"] = json!({"name": "idle"});
    create_drill(&client, &ns.name, "silent", silent).await;

    let d = wait_phase(
        &client,
        &ns.name,
        "good",
        DrillPhase::Promoted,
        Duration::from_secs(90),
        &controller,
    )
    .await;
    let st = d.status.unwrap();
    assert_eq!(st.windows.len(), 2);
    for w in &st.windows {
        assert_eq!(w.verdict, WindowVerdict::Pass, "{w:?}");
        let rate = w.error_rate.unwrap();
        assert!((rate - 0.01).abs() < 0.005, "{rate}");
    }
    let target = wait_ready(&client, &ns.name, "web", 2).await;
    let image = target.spec.unwrap().template.spec.unwrap().containers[0]
        .image
        .clone();
    assert_eq!(image.as_deref(), Some("registry.example.com/team/web:2"));

    let silent = get_drill(&client, &ns.name, "silent").await.status.unwrap();
    assert_eq!(silent.phase, Some(DrillPhase::Analyzing), "{silent:#?}");
    assert!(!silent.windows.is_empty());
    for w in &silent.windows {
        assert_eq!(w.verdict, WindowVerdict::NoData, "{w:?}");
        assert!(w.reason.contains("noDataPolicy Pause"), "{}", w.reason);
    }
}

#[tokio::test]
#[ignore = "needs the real test bed: make test"]
async fn pod_template_hash_labels_select_the_judged_revision() {
    let client = client().await;
    apply_crds(&client).await;
    let ns = TestNamespace::new(&client, "drill-prom-hash").await;
    let dir = tempfile::tempdir().unwrap();
    // Told apart by their error rates: stable 0.2 %, canary 1 %.
    let stable = Workload::start(dir.path(), 50.0, 0.002, 0.05);
    let canary = Workload::start(dir.path(), 50.0, 0.01, 0.08);
    let prom = Prometheus::launch(dir.path()).await;
    ready_deployment(
        &client,
        &ns.name,
        "web",
        2,
        "registry.example.com/team/web:1",
    )
    .await;
    let stable_hash = pod_template_hash(&client, &ns.name, "app=web,!releasegate.dev/track")
        .await
        .unwrap();
    prom.set_targets(&[(&stable, json!({"pod_template_hash": stable_hash}))]);
    prom.wait_scraped(1).await;

    let controller = ControllerProcess::start(&ns.name);
    let sel = r#"pod_template_hash="$podTemplateHash""#;
    let mut s = spec(&prom.url);
    s["metrics"]["prometheus"]["errorRateQuery"] = json!(format!(
        r#"sum(rate(http_requests_total{{code="500",{sel}}}[$window])) / sum(rate(http_requests_total{{{sel}}}[$window]))"#
    ));
    s["metrics"]["prometheus"]["latencyQuery"] = json!(format!(
        r#"1000 * histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{{{sel}}}[$window])))"#
    ));
    s["metrics"]["prometheus"]["requestsQuery"] = json!(format!(
        r#"sum(increase(http_requests_total{{{sel}}}[$window]))"#
    ));
    create_drill(&client, &ns.name, "hash", s).await;

    // The canary's ReplicaSet exists once the drill rolled it out: scrape its workload under
    // that hash.
    let canary_hash = wait_until(Duration::from_secs(60), || {
        let client = client.clone();
        let ns = ns.name.clone();
        async move { pod_template_hash(&client, &ns, "releasegate.dev/track=canary").await }
    })
    .await
    .expect("the canary ReplicaSet");
    assert_ne!(canary_hash, stable_hash);
    prom.set_targets(&[
        (&stable, json!({"pod_template_hash": stable_hash})),
        (&canary, json!({"pod_template_hash": canary_hash})),
    ]);

    let d = wait_phase(
        &client,
        &ns.name,
        "hash",
        DrillPhase::Promoted,
        Duration::from_secs(90),
        &controller,
    )
    .await;
    let st = d.status.unwrap();
    let passed: Vec<_> = st
        .windows
        .iter()
        .filter(|w| w.verdict == WindowVerdict::Pass)
        .collect();
    assert_eq!(passed.len(), 2, "{st:#?}");
    for w in passed {
        let q = w.query.as_deref().unwrap();
        assert!(
            q.contains(&format!(r#"pod_template_hash="{canary_hash}""#)),
            "{q}"
        );
        let rate = w.error_rate.unwrap();
        assert!(
            (rate - 0.01).abs() < 0.004,
            "the canary's 1 %, not the stable's 0.2 %: {rate}"
        );
    }
    // Windows before the canary was scraped had no data and paused, as the policy says.
    assert!(
        st.windows
            .iter()
            .all(|w| w.verdict != WindowVerdict::Breach)
    );
}

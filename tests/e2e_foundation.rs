//! End-to-end proof of the foundation against the real local control plane that `make test`
//! starts (`e2e/cluster.sh`): the generated CRDs install and print their columns, the API
//! server's schema/CEL validation rejects bad specs naming the field, Deployments get Ready
//! Pods on the kwok node, and the controller connects, reconciles and stops on SIGTERM.
//!
//! These tests are ignored by a plain `cargo test`; `make test` runs them with KUBECONFIG set.

mod support;

use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use kube::api::PostParams;
use release_gate::api::{CanaryDrill, HardenedRelease};
use serde_json::json;
use std::time::Duration;
use support::{TestNamespace, apply_crds, client, kubectl, wait_until};

#[tokio::test]
#[ignore = "needs the real test bed: make test"]
async fn crds_install_and_kubectl_shows_the_printer_columns() {
    let client = client().await;
    apply_crds(&client).await;
    let ns = TestNamespace::new(&client, "columns").await;
    let hr: HardenedRelease = serde_json::from_value(json!({
        "apiVersion": "releasegate.dev/v1alpha1", "kind": "HardenedRelease",
        "metadata": {"name": "web"},
        "spec": {"image": "registry.example.com/team/web@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
    }))
    .unwrap();
    Api::<HardenedRelease>::namespaced(client.clone(), &ns.name)
        .create(&PostParams::default(), &hr)
        .await
        .expect("a valid HardenedRelease is accepted");

    let out = kubectl(&["get", "hr,drill,dec", "-n", &ns.name]);
    let header = out.lines().next().unwrap_or_default().to_string();
    for col in ["NAME", "PHASE", "DIGEST", "READY", "AGE"] {
        assert!(
            header.contains(col),
            "`kubectl get hr` header lacks {col}: {out}"
        );
    }
    assert!(out.contains("hardenedrelease.releasegate.dev/web"), "{out}");

    let drill = kubectl(&["get", "drill", "-n", &ns.name, "-o", "wide"]);
    // An empty list prints no header; use the CRD's columns through `kubectl explain`-free check.
    let crd = kubectl(&[
        "get",
        "crd",
        "canarydrills.releasegate.dev",
        "-o",
        "jsonpath={.spec.versions[0].additionalPrinterColumns[*].name}",
    ]);
    for col in ["Target", "Phase", "Last Window", "MTTR", "Age"] {
        assert!(
            crd.contains(col),
            "CanaryDrill lacks the {col} column: {crd} / {drill}"
        );
    }
    let resources = kubectl(&[
        "api-resources",
        "--api-group=releasegate.dev",
        "--no-headers",
    ]);
    for (short, kind) in [
        ("hr", "HardenedRelease"),
        ("drill", "CanaryDrill"),
        ("dec", "Decision"),
    ] {
        let listed = resources
            .lines()
            .any(|l| l.split_whitespace().any(|w| w == short) && l.contains(kind));
        assert!(
            listed,
            "short name {short} for {kind} missing in:\n{resources}"
        );
    }
}

/// Creates `body` and returns the API server's rejection message, failing if it was accepted.
async fn rejected(client: &kube::Client, ns: &str, body: serde_json::Value) -> String {
    let kind = body["kind"].as_str().unwrap().to_string();
    let res = match kind.as_str() {
        "HardenedRelease" => Api::<HardenedRelease>::namespaced(client.clone(), ns)
            .create(
                &PostParams::default(),
                &serde_json::from_value(body.clone()).unwrap(),
            )
            .await
            .map(|_| ()),
        "CanaryDrill" => {
            // Built as a dynamic object: the typed struct cannot even express some bad values.
            let ar = kube::api::ApiResource::erase::<CanaryDrill>(&());
            Api::<kube::api::DynamicObject>::namespaced_with(client.clone(), ns, &ar)
                .create(
                    &PostParams::default(),
                    &serde_json::from_value(body.clone()).unwrap(),
                )
                .await
                .map(|_| ())
        }
        other => panic!("unexpected kind {other}"),
    };
    match res {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 422, "expected Invalid, got {status:?}");
            status.message
        }
        Err(e) => panic!("expected a validation error, got {e}"),
        Ok(()) => panic!("the API server accepted an invalid {kind}: {body}"),
    }
}

fn drill(spec_patch: serde_json::Value) -> serde_json::Value {
    let mut spec = json!({
        "target": {"name": "web"},
        "canary": {"image": "registry.example.com/team/web:2"},
        "budget": {"maxErrorRate": 0.01, "maxLatencyMs": 300},
        "metrics": {"synthetic": {"outcome": "Fail"}},
        "owner": "team-web"
    });
    for (k, v) in spec_patch.as_object().unwrap() {
        spec[k] = v.clone();
    }
    json!({"apiVersion": "releasegate.dev/v1alpha1", "kind": "CanaryDrill",
           "metadata": {"name": "bad"}, "spec": spec})
}

#[tokio::test]
#[ignore = "needs the real test bed: make test"]
async fn invalid_specs_are_rejected_by_the_api_server_naming_the_field() {
    let client = client().await;
    apply_crds(&client).await;
    let ns = TestNamespace::new(&client, "invalid").await;

    let msg = rejected(
        &client,
        &ns.name,
        json!({"apiVersion": "releasegate.dev/v1alpha1", "kind": "HardenedRelease",
               "metadata": {"name": "bad"}, "spec": {"image": "   "}}),
    )
    .await;
    assert!(msg.contains("spec.image"), "{msg}");
    assert!(msg.contains("must name an image"), "{msg}");

    let msg = rejected(&client, &ns.name, drill(json!({"breachWindows": 0}))).await;
    assert!(msg.contains("spec.breachWindows"), "{msg}");

    let msg = rejected(
        &client,
        &ns.name,
        drill(json!({"budget": {"maxErrorRate": 1.5}})),
    )
    .await;
    assert!(msg.contains("spec.budget.maxErrorRate"), "{msg}");

    let msg = rejected(
        &client,
        &ns.name,
        drill(json!({"metrics": {
            "synthetic": {"outcome": "Pass"},
            "prometheus": {"address": "http://prom:9090", "errorRateQuery": "up"}
        }})),
    )
    .await;
    assert!(
        msg.contains("exactly one of prometheus or synthetic"),
        "{msg}"
    );

    let msg = rejected(&client, &ns.name, drill(json!({"window": "soon"}))).await;
    assert!(msg.contains("spec.window"), "{msg}");

    // And the valid drill is accepted, so the rejections above are about the bad fields.
    let ar = kube::api::ApiResource::erase::<CanaryDrill>(&());
    Api::<kube::api::DynamicObject>::namespaced_with(client.clone(), &ns.name, &ar)
        .create(
            &PostParams::default(),
            &serde_json::from_value(drill(json!({}))).unwrap(),
        )
        .await
        .expect("the valid drill is accepted");
}

#[tokio::test]
#[ignore = "needs the real test bed: make test"]
async fn a_deployment_gets_ready_pods_on_the_kwok_node() {
    let client = client().await;
    let ns = TestNamespace::new(&client, "deploy").await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns.name);
    let dep: Deployment = serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "registry.example.com/team/web:1"}]}
            }
        }
    }))
    .unwrap();
    deployments
        .create(&PostParams::default(), &dep)
        .await
        .unwrap();
    let ready = wait_until(Duration::from_secs(90), || {
        let deployments = deployments.clone();
        async move {
            let d = deployments.get("web").await.ok()?;
            let s = d.status?;
            (s.ready_replicas == Some(3) && s.updated_replicas == Some(3)).then_some(s)
        }
    })
    .await;
    assert!(
        ready.is_some(),
        "the Deployment's 3 Pods did not become Ready within 90s"
    );
    let pods = kubectl(&[
        "get",
        "pods",
        "-n",
        &ns.name,
        "-o",
        "jsonpath={.items[*].spec.nodeName}",
    ]);
    assert!(
        pods.split_whitespace().count() == 3 && pods.split_whitespace().all(|n| n == "kwok-node-0"),
        "{pods}"
    );
}

#[tokio::test]
#[ignore = "needs the real test bed: make test"]
async fn the_controller_connects_reconciles_and_stops_cleanly_on_sigterm() {
    let client = client().await;
    apply_crds(&client).await;
    let ns = TestNamespace::new(&client, "controller").await;
    let port = support::free_port();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_release-gate"))
        .args(["controller", "--watch-namespace", &ns.name])
        .args(["--controller-health-addr", &format!("127.0.0.1:{port}")])
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the controller");

    let hrs: Api<HardenedRelease> = Api::namespaced(client.clone(), &ns.name);
    let hr: HardenedRelease = serde_json::from_value(json!({
        "apiVersion": "releasegate.dev/v1alpha1", "kind": "HardenedRelease",
        "metadata": {"name": "web"}, "spec": {"image": "registry.example.com/team/web:1"}
    }))
    .unwrap();
    hrs.create(&PostParams::default(), &hr).await.unwrap();
    let observed = wait_until(Duration::from_secs(60), || {
        let hrs = hrs.clone();
        async move {
            let hr = hrs.get("web").await.ok()?;
            let st = hr.status?;
            (st.observed_generation == hr.metadata.generation).then_some(st)
        }
    })
    .await
    .expect("the controller recorded observedGeneration within 60s");
    assert!(observed.phase.is_some());
    assert!(observed.conditions.iter().any(|c| c.type_ == "Ready"));

    let metrics = reqwest_get(port, "/metrics").await;
    assert!(
        metrics.contains("releasegate_reconciles_total{kind=\"HardenedRelease\"}"),
        "{metrics}"
    );

    let pid = child.id().expect("running").to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("the controller exited within 20s of SIGTERM")
        .unwrap();
    let mut stderr = String::new();
    use tokio::io::AsyncReadExt;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .await
        .unwrap();
    assert!(exit.success(), "exit status {exit:?}; logs:\n{stderr}");
    assert!(
        stderr.contains("connected to the Kubernetes API server"),
        "{stderr}"
    );
    assert!(stderr.contains("controllers shut down cleanly"), "{stderr}");
}

/// A minimal HTTP GET over a raw socket, so the test needs no HTTP client crate.
async fn reqwest_get(port: u16, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

/// The Event recorder every controller and the webhook use: a repeat within six minutes is
/// counted in the first Event's series; another reason or object makes its own Event.
#[tokio::test]
#[ignore = "needs the real test bed: make test"]
async fn a_repeated_event_is_counted_in_one_series() {
    use k8s_openapi::api::core::v1::ObjectReference;
    use k8s_openapi::api::events::v1::Event as K8sEvent;
    use kube::runtime::events::{Event, EventType};
    let client = client().await;
    let ns = TestNamespace::new(&client, "events").await;
    let recorder = release_gate::events::Recorder::new(client.clone(), "release-gate".into());
    let regarding = |name: &str| ObjectReference {
        api_version: Some("releasegate.dev/v1alpha1".into()),
        kind: Some("HardenedRelease".into()),
        namespace: Some(ns.name.clone()),
        name: Some(name.into()),
        ..Default::default()
    };
    let event = |reason: &str, note: &str| Event {
        type_: EventType::Warning,
        reason: reason.into(),
        note: Some(note.into()),
        action: "Verify".into(),
        secondary: None,
    };
    for note in ["first", "second", "third"] {
        recorder
            .publish(&event("Blocked", note), &regarding("web"))
            .await
            .expect("the Event is written");
    }
    recorder
        .publish(&event("Verified", "ok"), &regarding("web"))
        .await
        .unwrap();
    recorder
        .publish(&event("Blocked", "other"), &regarding("api"))
        .await
        .unwrap();
    let events = Api::<K8sEvent>::namespaced(client.clone(), &ns.name)
        .list(&Default::default())
        .await
        .unwrap()
        .items;
    let summary: Vec<(String, String, Option<i32>, String)> = events
        .iter()
        .map(|e| {
            (
                e.regarding.as_ref().and_then(|r| r.name.clone()).unwrap(),
                e.reason.clone().unwrap(),
                e.series.as_ref().map(|s| s.count),
                e.note.clone().unwrap(),
            )
        })
        .collect();
    assert_eq!(events.len(), 3, "{summary:?}");
    let blocked_web = events
        .iter()
        .find(|e| {
            e.reason.as_deref() == Some("Blocked")
                && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("web")
        })
        .unwrap_or_else(|| panic!("no Blocked Event for web: {summary:?}"));
    assert_eq!(
        blocked_web.series.as_ref().map(|s| s.count),
        Some(3),
        "{summary:?}"
    );
    assert_eq!(blocked_web.note.as_deref(), Some("first"));
    assert_eq!(
        blocked_web.reporting_controller.as_deref(),
        Some("release-gate")
    );
    assert_eq!(blocked_web.type_.as_deref(), Some("Warning"));
    // An Event deleted meanwhile (its time to live): the next repeat makes a new one.
    Api::<K8sEvent>::namespaced(client.clone(), &ns.name)
        .delete(
            blocked_web.metadata.name.as_deref().unwrap(),
            &Default::default(),
        )
        .await
        .unwrap();
    recorder
        .publish(&event("Blocked", "fourth"), &regarding("web"))
        .await
        .expect("a new Event replaces the deleted one");
    let again = Api::<K8sEvent>::namespaced(client.clone(), &ns.name)
        .list(&Default::default())
        .await
        .unwrap()
        .items;
    assert!(
        again
            .iter()
            .any(|e| e.note.as_deref() == Some("fourth") && e.series.is_none()),
        "no new Event after the deletion"
    );
}

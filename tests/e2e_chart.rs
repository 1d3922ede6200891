//! The Helm chart lints, and installs into the real API server: its CRDs, RBAC, Service and
//! Deployment are created and the operator's Pod becomes Ready on the kwok node.

mod support;

use std::process::Command;
use support::{TestNamespace, client};

fn helm(args: &[&str]) -> (bool, String) {
    let out = Command::new("helm")
        .args(args)
        .output()
        .expect("helm on PATH (make test builds it into ~/.cache/release-gate/bin)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test]
#[ignore = "needs the real test bed: make test"]
async fn the_chart_lints_and_installs_into_the_real_api_server() {
    let chart = concat!(env!("CARGO_MANIFEST_DIR"), "/charts/release-gate");
    let (ok, out) = helm(&["lint", "--strict", chart]);
    assert!(ok, "helm lint failed:\n{out}");

    let client = client().await;
    let ns = TestNamespace::new(&client, "chart").await;
    let release = ns.name.clone();
    let (ok, out) = helm(&[
        "install",
        &release,
        chart,
        "--namespace",
        &ns.name,
        "--wait",
        "--timeout",
        "120s",
    ]);
    assert!(ok, "helm install failed:\n{out}");

    let ready = support::kubectl(&[
        "get",
        "deployment",
        &release,
        "-n",
        &ns.name,
        "-o",
        "jsonpath={.status.readyReplicas}",
    ]);
    assert_eq!(ready, "1", "the operator Deployment is not Ready");
    let crds = support::kubectl(&["get", "crd", "-o", "name"]);
    for crd in ["hardenedreleases", "canarydrills", "decisions"] {
        assert!(crds.contains(&format!("{crd}.releasegate.dev")), "{crds}");
    }
    let can = support::kubectl(&[
        "auth",
        "can-i",
        "patch",
        "hardenedreleases/status",
        &format!("--as=system:serviceaccount:{}:{release}", ns.name),
    ]);
    assert_eq!(
        can.trim(),
        "yes",
        "the operator may not write release status"
    );

    let (ok, out) = helm(&["uninstall", &release, "--namespace", &ns.name, "--wait"]);
    assert!(ok, "helm uninstall failed:\n{out}");
}

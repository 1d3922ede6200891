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
        // The operator here is a kwok Pod that runs nothing: select no namespace, so the
        // webhook configuration installs without judging the other tests' workloads.
        "--set-json",
        &format!(
            "webhook.admission.namespaceSelector={{\"matchLabels\":{{\"releasegate.dev/e2e-chart\":\"{}\"}}}}",
            ns.name
        ),
    ]);
    assert!(ok, "helm install failed:\n{out}");

    // The webhook configuration lists exactly the paths an image takes to a node.
    let rules = support::kubectl(&[
        "get",
        "validatingwebhookconfiguration",
        &release,
        "-o",
        "jsonpath={range .webhooks[0].rules[*]}{.apiGroups[0]}:{.resources}{\"\\n\"}{end}",
    ]);
    assert_eq!(
        rules.lines().collect::<Vec<_>>(),
        [
            ":[\"pods\",\"pods/ephemeralcontainers\",\"replicationcontrollers\"]",
            "apps:[\"deployments\",\"replicasets\",\"statefulsets\",\"daemonsets\"]",
            "batch:[\"jobs\",\"cronjobs\"]",
        ],
        "{rules}"
    );
    let policy = support::kubectl(&[
        "get",
        "validatingwebhookconfiguration",
        &release,
        "-o",
        "jsonpath={.webhooks[0].failurePolicy} {.webhooks[0].sideEffects} {.webhooks[0].clientConfig.service.path}",
    ]);
    assert_eq!(policy, "Fail NoneOnDryRun /validate");

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
    let sa = format!("system:serviceaccount:{}:{release}", ns.name);
    let can = |verb: &str, resource: &str, sub: &str| {
        let mut args = vec!["auth", "can-i", verb, resource];
        if !sub.is_empty() {
            args.push(sub);
        }
        let out = Command::new("kubectl")
            .args(&args)
            .arg(format!("--as={sa}"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim() == "yes"
    };
    assert!(can(
        "patch",
        "hardenedreleases.releasegate.dev",
        "--subresource=status"
    ));
    assert!(
        can("patch", "deployments.apps", ""),
        "drills patch their target"
    );
    // Least privilege: tenants' specs, Deployments' lifecycle and Secrets' contents stay theirs.
    assert!(!can("update", "hardenedreleases.releasegate.dev", ""));
    assert!(!can("delete", "deployments.apps", ""));
    assert!(!can("create", "secrets", ""));

    let (ok, out) = helm(&["uninstall", &release, "--namespace", &ns.name, "--wait"]);
    assert!(ok, "helm uninstall failed:\n{out}");
}

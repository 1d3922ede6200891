//! The Helm chart lints, and installs into the real API server: its CRDs, RBAC, Service and
//! Deployment are created and the operator's Pod becomes Ready on the kwok node; the default
//! TrustPolicies of its values are applied, and the operator is given the pinned policy bundle.

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

    // A TrustPolicy entry without what it must say is refused, naming the value.
    let (ok, out) = helm(&[
        "template",
        "x",
        chart,
        "--set-json",
        r#"trustPolicies=[{"name":"t","images":["r.example/*"]}]"#,
    ]);
    assert!(!ok && out.contains("trustPolicies[0]: give keys"), "{out}");
    let (ok, out) = helm(&[
        "template",
        "x",
        chart,
        "--set-json",
        r#"trustPolicies=[{"name":"t","keys":[{"name":"k","pem":"x"}]}]"#,
    ]);
    assert!(!ok && out.contains("trustPolicies[0].images"), "{out}");

    let client = client().await;
    let ns = TestNamespace::new(&client, "chart").await;
    let release = ns.name.clone();
    // The pinned bundle, as a ConfigMap of the release namespace.
    let policies = concat!(env!("CARGO_MANIFEST_DIR"), "/policies");
    support::kubectl(&[
        "create",
        "configmap",
        "release-gate-policy",
        "-n",
        &ns.name,
        &format!("--from-file={policies}"),
    ]);
    let digest = Command::new(env!("CARGO_BIN_EXE_release-gate"))
        .args(["policy", "digest", policies])
        .output()
        .unwrap();
    let digest = String::from_utf8_lossy(&digest.stdout).trim().to_owned();
    assert!(digest.starts_with("sha256:"), "{digest}");
    let tp_name = format!("{}-payments", ns.name);
    let trust_policies = serde_json::json!([{
        "name": tp_name,
        "images": ["registry.example.com/payments/*"],
        "keys": [{"name": "ci", "secretRef": {"name": "payments-cosign", "key": "cosign.pub"}}],
        "provenance": {"builder": "https://github.com/actions/runner/github-hosted"},
        "maxVulnerabilityReportAge": "7d",
    }]);
    let (ok, out) = helm(&[
        "install",
        &release,
        chart,
        "--namespace",
        &ns.name,
        "--wait",
        "--timeout",
        "120s",
        "--set",
        "policy.configMap=release-gate-policy",
        "--set",
        &format!("policy.digest={digest}"),
        "--set-json",
        &format!("trustPolicies={trust_policies}"),
        // The operator here is a kwok Pod that runs nothing: select no namespace, so the
        // webhook configuration installs without judging the other tests' workloads.
        "--set-json",
        &format!(
            "webhook.admission.namespaceSelector={{\"matchLabels\":{{\"releasegate.dev/e2e-chart\":\"{}\"}}}}",
            ns.name
        ),
    ]);
    assert!(ok, "helm install failed:\n{out}");

    // The default TrustPolicy is in the API server, as the values say.
    let tp = support::kubectl(&[
        "get",
        "trustpolicy",
        &tp_name,
        "-o",
        "jsonpath={.spec.images[0]} {.spec.keys[0].secretRef.name} {.spec.maxVulnerabilityReportAge}",
    ]);
    assert_eq!(tp, "registry.example.com/payments/* payments-cosign 7d");
    // The operator is given the pinned bundle and reads TrustPolicy Secrets from its namespace.
    let env = support::kubectl(&[
        "get",
        "deployment",
        &release,
        "-n",
        &ns.name,
        "-o",
        "jsonpath={range .spec.template.spec.containers[0].env[*]}{.name}={.value}{\"\\n\"}{end}",
    ]);
    for want in [
        "RELEASE_GATE_POLICY_BUNDLE=/policy".to_owned(),
        format!("RELEASE_GATE_POLICY_DIGEST={digest}"),
        format!("RELEASE_GATE_OPERATOR_NAMESPACE={}", ns.name),
        "RELEASE_GATE_LEADER_ELECT=true".to_owned(),
    ] {
        assert!(env.lines().any(|l| l == want), "{want}: {env}");
    }
    let volume = support::kubectl(&[
        "get",
        "deployment",
        &release,
        "-n",
        &ns.name,
        "-o",
        "jsonpath={.spec.template.spec.volumes[?(@.name==\"policy\")].configMap.name}",
    ]);
    assert_eq!(volume, "release-gate-policy");

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
    // Leader election: the Lease in the chart's namespace, and no other.
    let lease = |ns: &str| {
        let out = Command::new("kubectl")
            .args([
                "auth",
                "can-i",
                "patch",
                "leases.coordination.k8s.io",
                "-n",
                ns,
            ])
            .arg(format!("--as={sa}"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim() == "yes"
    };
    assert!(lease(&ns.name), "the replicas share a Lease");
    assert!(!lease("kube-system"));

    let (ok, out) = helm(&["uninstall", &release, "--namespace", &ns.name, "--wait"]);
    assert!(ok, "helm uninstall failed:\n{out}");
    let gone = Command::new("kubectl")
        .args(["get", "trustpolicy", &tp_name])
        .output()
        .unwrap();
    assert!(
        !gone.status.success(),
        "the chart's TrustPolicy goes with it"
    );
}

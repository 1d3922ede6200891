//! Helpers for the end-to-end tests against the local control plane: a client from
//! KUBECONFIG, CRD installation, a temporary namespace per test, polling, kubectl.
#![allow(dead_code)]

#[path = "../common/unique.rs"]
mod unique;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use std::future::Future;
use std::time::{Duration, Instant};

/// A client for the cluster `make test` started. Fails (never skips) without KUBECONFIG.
pub async fn client() -> Client {
    release_gate::install_crypto_provider();
    assert!(
        std::env::var_os("KUBECONFIG").is_some(),
        "KUBECONFIG is not set: run the end-to-end tests through `make test` (e2e/test.sh), \
         which starts the local control plane"
    );
    Client::try_default()
        .await
        .expect("a client from KUBECONFIG")
}

/// Server-side applies the generated CRDs and waits until they are Established.
pub async fn apply_crds(client: &Client) {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in release_gate::api::crds() {
        let name = crd.metadata.name.clone().unwrap();
        api.patch(
            &name,
            &PatchParams::apply("release-gate-e2e").force(),
            &Patch::Apply(&crd),
        )
        .await
        .unwrap_or_else(|e| panic!("cannot apply CRD {name}: {e}"));
        let established = wait_until(Duration::from_secs(30), || {
            let api = api.clone();
            let name = name.clone();
            async move {
                let crd = api.get(&name).await.ok()?;
                crd.status?
                    .conditions?
                    .iter()
                    .any(|c| c.type_ == "Established" && c.status == "True")
                    .then_some(())
            }
        })
        .await;
        assert!(
            established.is_some(),
            "CRD {name} not Established within 30s"
        );
    }
}

/// A namespace created for one test and deleted when the test ends (pass or fail).
pub struct TestNamespace {
    pub name: String,
}

impl TestNamespace {
    pub async fn new(client: &Client, prefix: &str) -> Self {
        let name = format!("e2e-{prefix}-{:x}", unique::unique_u64() & 0xffff_ffff);
        let ns: Namespace = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}
        }))
        .unwrap();
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &ns)
            .await
            .unwrap_or_else(|e| panic!("cannot create namespace {name}: {e}"));
        Self { name }
    }
}

/// How long the deletion of a test namespace may take to be accepted by the API server; it
/// answers in milliseconds, so this only bounds a hung server.
const NAMESPACE_DELETE_TIMEOUT: Duration = Duration::from_secs(20);

impl Drop for TestNamespace {
    // The drop runs as the test's future ends: a task spawned on the test's runtime would be
    // dropped unrun when that runtime shuts down, and the test's client cannot be used from
    // here either (its connection is driven by that runtime, which this call blocks). So the
    // deletion runs to completion on a thread of its own, with its own runtime and client.
    fn drop(&mut self) {
        let name = self.name.clone();
        let outcome = std::thread::spawn(move || delete_namespace(&name))
            .join()
            .unwrap_or_else(|_| Err("the deleting thread panicked".into()));
        if let Err(e) = outcome {
            // No panic in a drop (it may run while a failed test unwinds); the suite's runner
            // (e2e/test.sh) checks afterwards that no test namespace is left.
            eprintln!("cannot delete test namespace {}: {e}", self.name);
        }
    }
}

fn delete_namespace(name: &str) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("no runtime: {e}"))?;
    runtime.block_on(async {
        let client = Client::try_default()
            .await
            .map_err(|e| format!("no client from KUBECONFIG: {e}"))?;
        let api: Api<Namespace> = Api::all(client);
        match tokio::time::timeout(
            NAMESPACE_DELETE_TIMEOUT,
            api.delete(name, &DeleteParams::background()),
        )
        .await
        {
            Err(_) => Err(format!("no answer within {NAMESPACE_DELETE_TIMEOUT:?}")),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(kube::Error::Api(e))) if e.code == 404 => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
        }
    })
}

/// Polls `f` every 250 ms until it yields `Some`, or `None` after `timeout`.
pub async fn wait_until<T, F, Fut>(timeout: Duration, mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Runs kubectl (the one built with the control plane) and returns stdout; panics with
/// stderr on failure.
pub fn kubectl(args: &[&str]) -> String {
    let out = std::process::Command::new("kubectl")
        .args(args)
        .output()
        .expect("kubectl on PATH (make test puts the built one there)");
    assert!(
        out.status.success(),
        "kubectl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A free loopback TCP port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

//! Benchmark (run by `e2e/bench/releases.sh`, skipped unless RELEASE_GATE_BENCH_RELEASES is set):
//! N HardenedReleases (default 1,000) over D signed and attested digests (default: N, each
//! release its own digest) in the local registry; reports the time until every release has a
//! verdict and the controller's peak RSS. The images are pushed by crane and signed and attested
//! (SBOM, provenance, vulnerability report) by the real cosign CLI, several at once; that
//! preparation is timed apart and not counted.

// Both support modules include tests/common/unique.rs; each gets its own copy, which is fine.
#![allow(clippy::duplicate_mod)]

mod evidence_support;
mod support;

mod release_support;
use release_support::*;

use evidence_support::{Registry, attest, cosign, cosign_vuln_predicate, fixture, generate_key};
use futures::StreamExt;
use kube::Api;
use kube::api::PostParams;
use release_gate::api::HardenedRelease;
use serde_json::json;
use std::time::{Duration, Instant};
use support::{TestNamespace, apply_crds, client};

/// Creates in flight at once.
const CREATORS: usize = 8;

#[tokio::test]
#[ignore = "needs the real test bed: make test"]
async fn many_releases_get_a_verdict() {
    let Some(n) = std::env::var("RELEASE_GATE_BENCH_RELEASES")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    else {
        eprintln!("skipped: set RELEASE_GATE_BENCH_RELEASES (e2e/bench/releases.sh)");
        return;
    };
    let digests: usize = std::env::var("RELEASE_GATE_BENCH_DIGESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(n)
        .clamp(1, n.max(1));
    let workers: usize = std::env::var("RELEASE_GATE_BENCH_PREP_WORKERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4)
        .max(1);
    let client = client().await;
    apply_crds(&client).await;
    let ns = TestNamespace::new(&client, "hr-bench").await;
    // RELEASE_GATE_BENCH_STORE=DIR keeps the signed images (registry storage, key, digests) in
    // DIR, and a later run with the same D serves them again instead of signing anew.
    let store = std::env::var_os("RELEASE_GATE_BENCH_STORE").map(std::path::PathBuf::from);
    let (reg, key, images) = match &store {
        None => {
            let reg = if olareg() {
                Registry::start_olareg()
            } else {
                Registry::start()
            };
            eprintln!("registry: {}", registry_name());
            let key = generate_key(&reg, "ci");
            let images = prepare(&reg, &key, digests, workers);
            (reg, key, images)
        }
        Some(dir) => stored(dir, digests, workers),
    };
    let tp_name = format!("{}-team", ns.name);
    let _cleanup = TrustPolicies(vec![tp_name.clone()]);
    trust_policy(
        &client,
        &tp_name,
        &[format!("{}/team/*", reg.host)],
        &[("ci", pem(&key))],
    )
    .await;
    let controller = start_controller(&ns.name, &reg.host, reg.dir.path());
    let api = Api::<HardenedRelease>::namespaced(client.clone(), &ns.name);
    let t0 = Instant::now();
    // Created CREATORS at a time, as a GitOps sync or a script with a few workers would: one by
    // one, the creates alone took 12-18 s, and the benchmark measured the test's round trips.
    futures::stream::iter(0..n)
        .map(|i| {
            let hr: HardenedRelease = serde_json::from_value(json!({
                "apiVersion": "releasegate.dev/v1alpha1", "kind": "HardenedRelease",
                "metadata": {"name": format!("app-{i}")}, "spec": {"image": images[i % digests]}
            }))
            .unwrap();
            let api = api.clone();
            async move { api.create(&PostParams::default(), &hr).await.unwrap() }
        })
        .buffer_unordered(CREATORS)
        .for_each(|_| async {})
        .await;
    let created = t0.elapsed();
    // Verdicts are counted from the controller's metrics, and the count confirmed by one list of
    // the releases' status: listing all N releases every 250 ms would load the apiserver and
    // etcd, which share the machine, as much as a tenth of the work measured.
    let judged = |metrics: &str| -> f64 {
        metrics
            .lines()
            .filter(|l| {
                l.starts_with("releasegate_release_verifications_total{")
                    && (l.contains("result=\"verified\"") || l.contains("result=\"blocked\""))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    loop {
        // Nothing is judged before the controller serves its metrics.
        let metrics = controller.try_metrics().await.unwrap_or_default();
        if judged(&metrics) >= n as f64 {
            let list = api.list(&Default::default()).await.unwrap();
            let done = list
                .items
                .iter()
                .filter(|r| r.status.as_ref().is_some_and(|s| verified(s) || blocked(s)))
                .count();
            if done == n {
                break;
            }
        }
        assert!(
            t0.elapsed() < Duration::from_secs(600),
            "not every release had a verdict after 600 s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let all = t0.elapsed();
    let verified_count = api
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .iter()
        .filter(|r| r.status.as_ref().is_some_and(verified))
        .count();
    eprintln!(
        "{n} releases over {digests} digests: created in {} ms, all with a verdict {} ms after the first create ({verified_count} Verified); controller peak RSS {} MiB, CPU {:.1} s (from its start: the apiserver, etcd and registry on the same cores take the rest)",
        created.as_millis(),
        all.as_millis(),
        controller.peak_rss_kib().unwrap_or(0) / 1024,
        controller.cpu_seconds().unwrap_or(0.0)
    );
    let metrics = controller.metrics().await;
    let sum_count: Vec<&str> = metrics
        .lines()
        .filter(|l| {
            l.starts_with("releasegate_release_verification_duration_seconds_sum")
                || l.starts_with("releasegate_release_verification_duration_seconds_count")
                || l.starts_with("releasegate_reconciles_total{kind=\"HardenedRelease\"}")
                || l.starts_with("releasegate_policy_evaluations_total")
        })
        .collect();
    eprintln!("{}", sum_count.join("\n"));
    assert_eq!(verified_count, n);
}

/// Whether the images are served by olareg (the default) or, with
/// RELEASE_GATE_BENCH_REGISTRY=docker-registry, by docker-registry 2.8. Both are real registries
/// of the test bed on the same two cores as the controller; docker-registry spends about twice
/// the CPU per request (it builds its URL router, compiling its route regexps, and zeroes a
/// 4 MiB read buffer for each request), which a registry on its own machine would not take from
/// the operator.
fn olareg() -> bool {
    match std::env::var("RELEASE_GATE_BENCH_REGISTRY").as_deref() {
        Ok("docker-registry") => false,
        Ok("olareg") | Ok("") | Err(_) => true,
        Ok(other) => panic!(
            "RELEASE_GATE_BENCH_REGISTRY={other}: use olareg (the default) or docker-registry"
        ),
    }
}

fn registry_name() -> &'static str {
    if olareg() {
        "olareg 0.2.2"
    } else {
        "docker-registry 2.8"
    }
}

/// The registry over `dir/D/data` with its key and image list, prepared on first use.
fn stored(
    dir: &std::path::Path,
    digests: usize,
    workers: usize,
) -> (Registry, evidence_support::KeyPair, Vec<String>) {
    let dir = dir.join(digests.to_string());
    std::fs::create_dir_all(&dir).unwrap();
    let list = dir.join("images.txt");
    let port_file = dir.join("port");
    let port: u16 = std::fs::read_to_string(&port_file)
        .ok()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(support::free_port);
    let reg = Registry::start_with_storage(&dir.join("data"), port);
    let key = evidence_support::KeyPair {
        key: dir.join("ci.key"),
        public: dir.join("ci.pub"),
    };
    let images: Vec<String> = match std::fs::read_to_string(&list) {
        Ok(text) => {
            eprintln!(
                "serving {digests} digests prepared earlier in {}",
                dir.display()
            );
            text.lines().map(str::to_owned).collect()
        }
        Err(_) => {
            let made = generate_key(&reg, "ci");
            std::fs::copy(&made.key, &key.key).unwrap();
            std::fs::copy(&made.public, &key.public).unwrap();
            let images = prepare(&reg, &key, digests, workers);
            std::fs::write(&port_file, port.to_string()).unwrap();
            std::fs::write(&list, images.join("\n")).unwrap();
            images
        }
    };
    if !olareg() {
        eprintln!("registry: {}", registry_name());
        return (reg, key, images);
    }
    // The same images, copied once into olareg's own storage and served on the same port (the
    // signatures name the host): same digests, same signatures, another registry.
    let root = dir.join("olareg");
    let complete = root.join(".complete");
    if !complete.exists() {
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let ola = Registry::start_olareg_with_storage(&root, support::free_port());
        let started = Instant::now();
        evidence_support::run(reg.crane().args([
            "copy",
            "--all-tags",
            "--insecure",
            &format!("{}/team/app", reg.host),
            &format!("{}/team/app", ola.host),
        ]));
        drop(ola);
        std::fs::write(&complete, "").unwrap();
        eprintln!(
            "copied {digests} digests into olareg in {} s",
            started.elapsed().as_secs()
        );
    }
    drop(reg);
    eprintln!("registry: {}", registry_name());
    (
        Registry::start_olareg_with_storage(&root, port),
        key,
        images,
    )
}

/// Pushes `digests` distinct images and signs and attests each with cosign (signature, CycloneDX
/// SBOM, SLSA provenance, vulnerability report), `workers` at once. `cosign sign` takes many
/// images per call (one key decryption for all); `cosign attest` one. Prints how long it took.
fn prepare(
    reg: &Registry,
    key: &evidence_support::KeyPair,
    digests: usize,
    workers: usize,
) -> Vec<String> {
    use std::sync::Mutex;
    let started = Instant::now();
    use std::sync::atomic::{AtomicUsize, Ordering};
    // One predicate file for all (cosign_vuln_predicate writes to a fixed name).
    let vuln = cosign_vuln_predicate(reg, "trivy-report.json");
    let (sbom, provenance) = (
        fixture("sbom.cdx.json"),
        fixture("slsa-provenance-v02.json"),
    );
    let images = Mutex::new(vec![String::new(); digests]);
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= digests {
                        break;
                    }
                    let image = reg.push_image("team/app", &format!("v{i}"));
                    images.lock().unwrap()[i] = image;
                }
            });
        }
    });
    let images = images.into_inner().unwrap();
    std::thread::scope(|s| {
        for chunk in images.chunks(images.len().div_ceil(workers).max(1)) {
            s.spawn(move || {
                let out = cosign(reg)
                    .args([
                        "sign",
                        "--yes",
                        "--tlog-upload=false",
                        "--allow-insecure-registry",
                        // The default 3 min covers the whole call, not each image.
                        "--timeout",
                        "60m",
                        "--key",
                    ])
                    .arg(&key.key)
                    .args(chunk)
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            });
        }
    });
    let next = AtomicUsize::new(0);
    let jobs: Vec<(&str, &std::path::Path)> = vec![
        ("cyclonedx", &sbom),
        ("slsaprovenance", &provenance),
        ("vuln", &vuln),
    ];
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                // One image's attestations in turn: cosign rewrites the image's `.att`
                // manifest, so two at once on one image lose one.
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= images.len() {
                        break;
                    }
                    for (kind, predicate) in &jobs {
                        attest(reg, key, &images[i], kind, predicate);
                    }
                }
            });
        }
    });
    eprintln!(
        "prepared {digests} signed and attested digests in {} s ({workers} at once)",
        started.elapsed().as_secs()
    );
    images
}

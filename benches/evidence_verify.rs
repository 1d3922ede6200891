//! Benchmark: `release-gate verify` against `cosign verify` + `cosign verify-attestation` (x3)
//! on the same image in the same local registry, and the library's warm throughput over many
//! distinct images. Run with `e2e/bench/verify-vs-cosign.sh` (or
//! `cargo bench --bench evidence_verify` with the tools on PATH). Under `cargo test` it only
//! checks that it builds.

#[path = "../tests/evidence_support/mod.rs"]
mod evidence_support;

use std::process::Command;
use std::time::{Duration, Instant};

use evidence_support::*;
use release_gate::evidence::{RegistryConfig, Requirements, TrustPolicy, TrustedKey, Verifier};

/// Runs of each command; the mean is reported (the first run of each is a warm-up, not counted).
const RUNS: usize = 10;
/// Distinct images for the throughput figure; each costs four cosign calls to set up.
const IMAGES: usize = 16;
/// Rounds over those images for the throughput figure.
const ROUNDS: usize = 10;

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!(
            "evidence_verify: run with `cargo bench --bench evidence_verify` (skipped under cargo test)"
        );
        return;
    }
    let reg = Registry::start();
    let key = generate_key(&reg, "cosign");
    let image = reg.push_image("bench/app", "v1");
    sign_and_attest(&reg, &key, &image, "trivy-report.json");

    let rg = env!("CARGO_BIN_EXE_release-gate");
    let pubkey = key.public.to_str().unwrap().to_owned();
    let rg_cmd = || {
        let mut c = Command::new(rg);
        c.args([
            "verify",
            &image,
            "--key",
            &pubkey,
            "--insecure-registry",
            &reg.host,
        ])
        .args(["--require", "cyclonedx,slsaprovenance,vuln"]);
        c
    };
    let cosign_cmds = || {
        let mut v = vec![];
        let mut c = cosign(&reg);
        c.args([
            "verify",
            "--insecure-ignore-tlog=true",
            "--allow-insecure-registry",
            "--key",
            &pubkey,
            &image,
        ]);
        v.push(c);
        for t in ["cyclonedx", "slsaprovenance", "vuln"] {
            let mut c = cosign(&reg);
            c.args([
                "verify-attestation",
                "--insecure-ignore-tlog=true",
                "--allow-insecure-registry",
                "--key",
                &pubkey,
                "--type",
                t,
                &image,
            ]);
            v.push(c);
        }
        v
    };
    let rg_time = mean(|| {
        run(&mut rg_cmd());
    });
    let cosign_time = mean(|| {
        for mut c in cosign_cmds() {
            run(&mut c);
        }
    });
    println!("image: {image} (signature + cyclonedx, slsaprovenance, vuln attestations)");
    println!(
        "release-gate verify:                           {:>8.1} ms (mean of {RUNS})",
        ms(rg_time)
    );
    println!(
        "cosign verify + 3x cosign verify-attestation:  {:>8.1} ms (mean of {RUNS})",
        ms(cosign_time)
    );
    println!(
        "ratio (cosign / release-gate):                 {:>8.1}x",
        cosign_time.as_secs_f64() / rg_time.as_secs_f64()
    );

    // Warm library throughput over distinct images.
    let images: Vec<String> = (0..IMAGES)
        .map(|i| {
            let img = reg.push_image("bench/many", &format!("v{i}"));
            sign_and_attest(&reg, &key, &img, "trivy-report.json");
            img
        })
        .collect();
    let trust = TrustPolicy {
        keys: vec![
            TrustedKey::from_pem("cosign.pub", &std::fs::read(&key.public).unwrap()).unwrap(),
        ],
        ..Default::default()
    };
    let verifier = Verifier::new(
        RegistryConfig {
            insecure: vec![reg.host.clone()],
            ..Default::default()
        },
        trust,
    )
    .unwrap();
    let req = Requirements::new(&["cyclonedx", "slsaprovenance", "vuln"].map(String::from));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        for img in &images {
            assert!(verifier.verify(img, &req).await.unwrap().verdict.is_accepted());
        }
        let start = Instant::now();
        for _ in 0..ROUNDS {
            for img in &images {
                let r = verifier.verify(img, &req).await.unwrap();
                assert!(r.verdict.is_accepted());
            }
        }
        let seq = start.elapsed();
        let start = Instant::now();
        for _ in 0..ROUNDS {
            let all = futures::future::join_all(images.iter().map(|img| verifier.verify(img, &req))).await;
            assert!(all.into_iter().all(|r| r.unwrap().verdict.is_accepted()));
        }
        let conc = start.elapsed();
        let n = (IMAGES * ROUNDS) as f64;
        println!(
            "library, warm, {IMAGES} distinct images x {ROUNDS} rounds: sequential {:.0} images/s, {IMAGES} concurrent {:.0} images/s",
            n / seq.as_secs_f64(),
            n / conc.as_secs_f64()
        );
    });
}

fn mean(mut f: impl FnMut()) -> Duration {
    f();
    let start = Instant::now();
    for _ in 0..RUNS {
        f();
    }
    start.elapsed() / RUNS as u32
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

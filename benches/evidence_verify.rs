//! Benchmark: `release-gate verify` against `cosign verify` + `cosign verify-attestation` (x3)
//! on the same image in the same local registry; the process start-up of each (most of the CLI
//! difference) and the like-for-like figure without it (the library in-process, a fresh verifier
//! per image, against cosign's time less its four start-ups); the library's throughput over 100
//! distinct images, sequential and 16 concurrent; and the peak RSS of the process while it
//! verifies those 100 images. Run with `e2e/bench/verify-vs-cosign.sh` (or
//! `cargo bench --bench evidence_verify` with the tools on PATH). Under `cargo test` it only
//! checks that it builds.

#[path = "../tests/evidence_support/mod.rs"]
mod evidence_support;

use std::process::Command;
use std::time::{Duration, Instant};

use evidence_support::*;
use release_gate::api::VulnerabilityBudget;
use release_gate::evidence::{RegistryConfig, Requirements, TrustPolicy, TrustedKey, Verifier};

/// Runs of each command; the mean is reported (the first run of each is a warm-up, not counted).
const RUNS: usize = 10;
/// Distinct images for the throughput and memory figures (the issue asks for the peak RSS over
/// 100); each costs four cosign calls to set up.
const IMAGES: usize = 100;
/// Rounds over those images for the throughput figure.
const ROUNDS: usize = 3;
/// Verifications in flight for the concurrent figure.
const CONCURRENT: usize = 16;

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

    // Process start-up: what every CLI call pays before any verification.
    let rg_start = mean(|| {
        run(Command::new(rg).arg("--version"));
    });
    let cosign_start = mean(|| {
        run(cosign(&reg).arg("version"));
    });
    println!(
        "process start-up: release-gate --version {:.1} ms, cosign version {:.1} ms (x4 calls = {:.1} ms)",
        ms(rg_start),
        ms(cosign_start),
        4.0 * ms(cosign_start)
    );

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
        trust.clone(),
    )
    .unwrap();
    let req = Requirements::new(
        &["cyclonedx", "slsaprovenance", "vuln"].map(String::from),
        &VulnerabilityBudget::default(),
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();

    // Like for like: the same work as the CLI calls (one image: the signature and three
    // attestations fetched and checked), in-process, with a fresh verifier (new connection
    // pool) each time, so no start-up on either side and no warm connections on ours.
    let fresh = || {
        Verifier::new(
            RegistryConfig {
                insecure: vec![reg.host.clone()],
                ..Default::default()
            },
            trust.clone(),
        )
        .unwrap()
    };
    let in_process = mean(|| {
        let v = fresh();
        let r = rt.block_on(v.verify(&image, &req)).unwrap();
        assert!(r.verdict.is_accepted());
    });
    let warm = mean(|| {
        let r = rt.block_on(verifier.verify(&image, &req)).unwrap();
        assert!(r.verdict.is_accepted());
    });
    let cosign_work = cosign_time.saturating_sub(cosign_start * 4);
    println!(
        "in-process, fresh verifier per image:          {:>8.1} ms (warm pool: {:.1} ms)",
        ms(in_process),
        ms(warm)
    );
    println!(
        "cosign less its 4 process start-ups:           {:>8.1} ms",
        ms(cosign_work)
    );
    println!(
        "like-for-like ratio (cosign work / in-process):{:>8.1}x",
        cosign_work.as_secs_f64() / in_process.as_secs_f64()
    );

    // Throughput and memory over distinct images.
    let setup = Instant::now();
    let images: Vec<String> = (0..IMAGES)
        .map(|i| {
            let img = reg.push_image("bench/many", &format!("v{i}"));
            sign_and_attest(&reg, &key, &img, "trivy-report.json");
            img
        })
        .collect();
    eprintln!(
        "({IMAGES} images signed and attested in {:.0} s)",
        setup.elapsed().as_secs_f64()
    );
    rt.block_on(async {
        // Peak RSS of this process while a fresh verifier verifies the 100 images, 16 at a time
        // (VmHWM reset first; the registry is another process).
        let before = reset_peak_rss();
        let v = fresh().with_bounds(CONCURRENT, release_gate::evidence::DEFAULT_DEADLINE);
        let all = verify_all(&v, &images, &req, CONCURRENT).await;
        assert!(all, "every image verifies");
        println!(
            "peak RSS verifying {IMAGES} distinct images ({CONCURRENT} concurrent): {:.1} MiB (RSS before: {:.1} MiB)",
            peak_rss_kib() as f64 / 1024.0,
            before as f64 / 1024.0
        );

        let start = Instant::now();
        for _ in 0..ROUNDS {
            for img in &images {
                let r = verifier.verify(img, &req).await.unwrap();
                assert!(r.verdict.is_accepted());
            }
        }
        let seq = start.elapsed();
        let n = (IMAGES * ROUNDS) as f64;
        for (label, v) in [
            (
                format!("default bounds ({} permits)", release_gate::evidence::DEFAULT_CONCURRENCY),
                verifier.clone(),
            ),
            (
                format!("{CONCURRENT} permits"),
                verifier
                    .clone()
                    .with_bounds(CONCURRENT, release_gate::evidence::DEFAULT_DEADLINE),
            ),
        ] {
            let start = Instant::now();
            for _ in 0..ROUNDS {
                assert!(verify_all(&v, &images, &req, CONCURRENT).await);
            }
            let conc = start.elapsed();
            println!(
                "library, warm, {IMAGES} distinct images x {ROUNDS} rounds: sequential {:.0} images/s, {CONCURRENT} concurrent {:.0} images/s [{label}]",
                n / seq.as_secs_f64(),
                n / conc.as_secs_f64()
            );
        }
    });
}

/// Verifies every image with `in_flight` verifications at a time; whether all were accepted.
async fn verify_all(v: &Verifier, images: &[String], req: &Requirements, in_flight: usize) -> bool {
    use futures::StreamExt as _;
    futures::stream::iter(images)
        .map(|img| v.verify(img, req))
        .buffer_unordered(in_flight)
        .all(|r| async move { r.is_ok_and(|r| r.verdict.is_accepted()) })
        .await
}

/// Resets this process's peak RSS (`/proc/self/clear_refs`, Linux) and returns the RSS now, KiB.
fn reset_peak_rss() -> u64 {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    status_kib("VmRSS:")
}

/// This process's peak RSS since the last reset, KiB.
fn peak_rss_kib() -> u64 {
    status_kib("VmHWM:")
}

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
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

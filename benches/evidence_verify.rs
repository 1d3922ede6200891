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
    // Wall time and CPU time (this process and its children, so both the CLIs and the library
    // in-process count): on a shared machine the wall time carries the waits for a core, the CPU
    // time does not.
    let rg_time = measure(|| {
        run(&mut rg_cmd());
    });
    let cosign_time = measure(|| {
        for mut c in cosign_cmds() {
            run(&mut c);
        }
    });
    println!("image: {image} (signature + cyclonedx, slsaprovenance, vuln attestations)");
    println!("mean of {RUNS} runs                                     wall        CPU");
    row("release-gate verify", rg_time);
    row("cosign verify + 3x cosign verify-attestation", cosign_time);
    ratio("ratio (cosign / release-gate)", cosign_time, rg_time);

    // Process start-up: what every CLI call pays before any verification (`--help` runs the
    // runtime and every package's initialisation, and stops there).
    let rg_start = measure(|| {
        run(Command::new(rg).args(["verify", "--help"]));
    });
    let cosign_start = measure(|| {
        for _ in 0..4 {
            run(cosign(&reg).args(["verify", "--help"]));
        }
    });
    row("start-up: release-gate verify --help", rg_start);
    row("start-up: 4x cosign verify --help", cosign_start);

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
    let req = Requirements::new(&["cyclonedx", "slsaprovenance", "vuln"].map(String::from));
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
    let in_process = measure(|| {
        let v = fresh();
        let r = rt.block_on(v.verify(&image, &req)).unwrap();
        assert!(r.verdict.is_accepted());
    });
    let warm = measure(|| {
        let r = rt.block_on(verifier.verify(&image, &req)).unwrap();
        assert!(r.verdict.is_accepted());
    });
    let cosign_work = Cost {
        wall: cosign_time.wall.saturating_sub(cosign_start.wall),
        cpu: cosign_time.cpu.saturating_sub(cosign_start.cpu),
    };
    row("library in-process, fresh verifier", in_process);
    row("library in-process, warm connection pool", warm);
    row("cosign less its 4 start-ups", cosign_work);
    ratio(
        "like for like (cosign less start-ups / library)",
        cosign_work,
        in_process,
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

        let (start, cpu0) = (Instant::now(), cpu_time());
        for _ in 0..ROUNDS {
            for img in &images {
                let r = verifier.verify(img, &req).await.unwrap();
                assert!(r.verdict.is_accepted());
            }
        }
        let (seq, seq_cpu) = (start.elapsed(), cpu_time().saturating_sub(cpu0));
        let n = (IMAGES * ROUNDS) as f64;
        println!(
            "library CPU per verification (sequential): {:.2} ms, {:.0} images per CPU-second (the registry's CPU not counted)",
            ms(seq_cpu) / n,
            n / seq_cpu.as_secs_f64().max(1e-9)
        );
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

/// Mean wall and CPU time of a run.
#[derive(Clone, Copy)]
struct Cost {
    wall: Duration,
    cpu: Duration,
}

/// Runs `f` once to warm up, then [`RUNS`] times; the mean cost of a run.
fn measure(mut f: impl FnMut()) -> Cost {
    f();
    let (start, cpu0) = (Instant::now(), cpu_time());
    for _ in 0..RUNS {
        f();
    }
    Cost {
        wall: start.elapsed() / RUNS as u32,
        cpu: cpu_time().saturating_sub(cpu0) / RUNS as u32,
    }
}

fn row(label: &str, c: Cost) {
    println!("{label:<48} {:>8.1} ms {:>8.1} ms", ms(c.wall), ms(c.cpu));
}

fn ratio(label: &str, a: Cost, b: Cost) {
    println!(
        "{label:<48} {:>8.1}x   {:>8.1}x",
        a.wall.as_secs_f64() / b.wall.as_secs_f64(),
        a.cpu.as_secs_f64() / b.cpu.as_secs_f64().max(1e-9)
    );
}

/// CPU time (user + system) of this process and of its children waited for, from
/// `/proc/self/stat` (clock ticks of 10 ms, the Linux USER_HZ).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let fields: Vec<u64> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .unwrap_or_default()
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    // utime, stime, cutime, cstime are fields 14-17 of the line, 12-15 after the name.
    let ticks: u64 = fields.get(11..15).map(|f| f.iter().sum()).unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

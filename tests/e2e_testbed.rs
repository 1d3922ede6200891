//! The test bed's own promises: a failed tool build names the tool and its log; a tool version
//! that go.mod does not build is refused; installing packages kills nothing and starts no
//! service; a control plane started by `e2e/cluster.sh` has year-long certificates and leaves no
//! process and no directory behind when stopped, or when it cannot start; a stale pidfile never
//! stops a process the cluster did not start; a test namespace is deleted when its test ends;
//! olareg serves the registry API on loopback.

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn repo(path: &str) -> String {
    format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
#[ignore = "needs the real test bed: make test"]
fn a_failed_tool_build_names_the_tool_and_its_log() {
    let cache = tempfile::tempdir().unwrap();
    let out = Command::new(repo("e2e/tools/install.sh"))
        .arg("crane")
        .env("RELEASE_GATE_CACHE", cache.path())
        // A version the Go module proxy does not have: the build must fail, not hang or pass.
        .env("CRANE_VERSION", "0.0.0-does-not-exist")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "the install of a missing version succeeded: {stderr}"
    );
    let log = cache.path().join("logs/crane-0.0.0-does-not-exist.log");
    assert!(
        stderr.contains("FAILED to build crane 0.0.0-does-not-exist")
            && stderr.contains(&*log.to_string_lossy()),
        "the failure message must name the tool and its log: {stderr}"
    );
    assert!(log.exists());
    // Nothing half-built is left looking complete.
    assert!(
        !cache
            .path()
            .join("tools/crane-0.0.0-does-not-exist/.ok")
            .exists()
    );
}

fn alive(pid: &str) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

#[test]
#[ignore = "needs the real test bed: make test"]
fn a_control_plane_starts_and_stops_leaving_nothing_behind() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("cluster");
    let up = Command::new(repo("e2e/cluster.sh"))
        .arg("up")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        up.status.success(),
        "cluster up failed: {}",
        String::from_utf8_lossy(&up.stderr)
    );
    let kubeconfig = dir.join("kubeconfig");
    let nodes = Command::new("kubectl")
        .args([
            "get",
            "node",
            "kwok-node-0",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
        ])
        .env("KUBECONFIG", &kubeconfig)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&nodes.stdout),
        "True",
        "the kwok node is Ready"
    );
    // The certificates outlive a `make run` left running for a long while.
    for cert in ["ca.crt", "apiserver.crt", "admin.crt"] {
        let year = Command::new("openssl")
            .args([
                "x509",
                "-noout",
                "-checkend",
                &(364 * 24 * 3600).to_string(),
                "-in",
            ])
            .arg(dir.join("certs").join(cert))
            .output()
            .unwrap();
        assert!(
            year.status.success(),
            "{cert} expires within 364 days: {}",
            String::from_utf8_lossy(&year.stdout)
        );
    }
    // Each pidfile is "PID STARTTIME BOOT_ID".
    let pids: Vec<String> = std::fs::read_dir(dir.join("pids"))
        .unwrap()
        .map(|e| {
            let recorded = std::fs::read_to_string(e.unwrap().path()).unwrap();
            assert_eq!(recorded.split_whitespace().count(), 3, "{recorded}");
            recorded.split_whitespace().next().unwrap().to_string()
        })
        .collect();
    assert_eq!(
        pids.len(),
        5,
        "etcd, apiserver, controller-manager, scheduler, kwok: {pids:?}"
    );
    assert!(pids.iter().all(|p| alive(p)));

    let down = Command::new(repo("e2e/cluster.sh"))
        .arg("down")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        down.status.success(),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
    let survivors: Vec<&String> = pids.iter().filter(|p| alive(p)).collect();
    assert!(
        survivors.is_empty(),
        "processes still running after down: {survivors:?}"
    );
    assert!(!dir.exists(), "the run directory was not removed");
}

/// Processes whose command line mentions `path` (every control-plane component names its run
/// directory in its flags).
fn processes_mentioning(path: &Path) -> Vec<String> {
    let needle = path.to_string_lossy().into_owned();
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| {
            let pid = e.ok()?.file_name().into_string().ok()?;
            pid.parse::<u32>().ok()?;
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            (pid != me && alive(&pid) && cmdline.contains(&needle))
                .then(|| format!("{pid}: {cmdline}"))
        })
        .collect()
}

#[test]
#[ignore = "needs the real test bed: make test"]
fn a_control_plane_whose_apiserver_cannot_start_fails_and_leaves_no_process() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("cluster");
    let started = Instant::now();
    let up = Command::new(repo("e2e/cluster.sh"))
        .arg("up")
        .arg(&dir)
        // A flag kube-apiserver does not know: it exits at once, after etcd has started.
        .env("RELEASE_GATE_APISERVER_ARGS", "--no-such-flag-for-the-test")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&up.stderr);
    assert!(!up.status.success(), "cluster up succeeded: {stderr}");
    assert!(
        !stderr.contains("control plane ready"),
        "a broken control plane was reported ready: {stderr}"
    );
    assert!(
        stderr.contains("kube-apiserver exited during start-up"),
        "the failure names the component: {stderr}"
    );
    // Found by the exit, not by a timeout.
    assert!(started.elapsed() < Duration::from_secs(60), "{stderr}");
    let left = processes_mentioning(&dir);
    assert!(left.is_empty(), "processes left behind: {left:?}");
    // The logs are kept for reading, the pidfiles are gone.
    let log = std::fs::read_to_string(dir.join("logs/kube-apiserver.log")).unwrap();
    assert!(log.contains("no-such-flag-for-the-test"), "{log}");
    assert!(!dir.join("pids").exists());
}

/// "PID STARTTIME BOOT_ID" of a running process, as e2e/cluster.sh records it.
fn identity(pid: u32) -> (String, String) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let start = after_name.split(' ').nth(19).unwrap().to_string();
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    (start, boot.trim().to_string())
}

fn sleeper() -> Child {
    Command::new("sleep").arg("300").spawn().unwrap()
}

#[test]
#[ignore = "needs the real test bed: make test"]
fn a_stale_pidfile_never_stops_a_process_the_cluster_did_not_start() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("cluster");
    std::fs::create_dir_all(dir.join("pids")).unwrap();
    // Unrelated processes that now hold PIDs some earlier run recorded.
    let mut legacy = sleeper();
    let mut other_start = sleeper();
    let mut other_boot = sleeper();
    // And one the pidfile names exactly (same PID, start time and boot): that one is stopped.
    let mut recorded = sleeper();
    let write =
        |name: &str, text: String| std::fs::write(dir.join("pids").join(name), text).unwrap();
    let (start, boot) = identity(other_start.id());
    write("etcd", format!("{}\n", legacy.id()));
    write(
        "kube-apiserver",
        format!(
            "{} {} {boot}\n",
            other_start.id(),
            start.parse::<u64>().unwrap() + 1
        ),
    );
    let (start, _) = identity(other_boot.id());
    write(
        "kwok",
        format!(
            "{} {start} 00000000-0000-0000-0000-000000000000\n",
            other_boot.id()
        ),
    );
    let (start, boot) = identity(recorded.id());
    write(
        "kube-scheduler",
        format!("{} {start} {boot}\n", recorded.id()),
    );

    let down = Command::new(repo("e2e/cluster.sh"))
        .arg("down")
        .arg(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&down.stderr);
    assert!(down.status.success(), "{stderr}");
    for (what, child) in [
        ("a pidfile with a PID only", &legacy),
        ("another start time", &other_start),
        ("another boot", &other_boot),
    ] {
        assert!(
            alive(&child.id().to_string()),
            "down stopped an unrelated process ({what}): {stderr}"
        );
    }
    assert!(stderr.contains("stale pidfile"), "{stderr}");
    assert!(
        !alive(&recorded.id().to_string()),
        "down did not stop the process its pidfile names exactly: {stderr}"
    );
    let _ = recorded.wait();
    assert!(!dir.exists(), "the run directory was not removed");
    for child in [&mut legacy, &mut other_start, &mut other_boot] {
        let _ = child.kill();
        let _ = child.wait();
    }
}

fn install(args: &[&str], cache: &Path, env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new(repo("e2e/tools/install.sh"));
    cmd.args(args).env("RELEASE_GATE_CACHE", cache);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[test]
#[ignore = "needs the real test bed: make test"]
fn a_tool_version_that_go_mod_does_not_pin_is_refused_before_building() {
    let cache = tempfile::tempdir().unwrap();
    for (tool, var, version, pinned) in [
        (
            "etcd",
            "ETCD_VERSION",
            "3.6.15",
            "go.etcd.io/etcd/server/v3 v3.6.16",
        ),
        ("k8s", "K8S_VERSION", "1.36.2", "k8s.io/kubernetes v1.36.3"),
        (
            "olareg",
            "OLAREG_VERSION",
            "0.2.1",
            "github.com/olareg/olareg v0.2.2",
        ),
    ] {
        let started = Instant::now();
        let out = install(&[tool], cache.path(), &[(var, version)]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success(),
            "{tool} {version} was built: {stderr}"
        );
        assert!(
            stderr.contains(&format!("{var}={version}"))
                && stderr.contains(&format!("e2e/tools/{tool}/go.mod pins {pinned}")),
            "the refusal names the override and the pin: {stderr}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "nothing is built"
        );
        assert!(
            !cache
                .path()
                .join(format!("tools/{tool}-{version}"))
                .exists()
        );
    }
}

/// The HTTP status of a GET, "000" when nothing answers.
fn http_status(url: &str) -> String {
    let out = Command::new("curl")
        .args([
            "-sS",
            "--noproxy",
            "*",
            "-m",
            "5",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            url,
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn wait_for_status(url: &str, want: &str, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if http_status(url) == want {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

fn named_processes(comm: &str) -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| {
            let pid = e.ok()?.file_name().into_string().ok()?;
            let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
            (name.trim() == comm && alive(&pid)).then_some(pid)
        })
        .collect()
}

#[test]
#[ignore = "needs the real test bed: make test (root or sudo, and the Debian mirror)"]
fn installing_packages_leaves_a_running_registry_alone_and_starts_no_service() {
    let tmp = tempfile::tempdir().unwrap();
    let port = support::free_port();
    let config = tmp.path().join("config.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
            tmp.path().join("data").display()
        ),
    )
    .unwrap();
    let mut registry = Command::new("docker-registry")
        .arg("serve")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("docker-registry (installed by e2e/tools/install.sh apt)");
    let url = format!("http://127.0.0.1:{port}/v2/");
    assert!(wait_for_status(&url, "200", Duration::from_secs(20)));
    let registries_before = named_processes("docker-registry");
    let policy_rc = Path::new("/usr/sbin/policy-rc.d");
    let policy_before = std::fs::read(policy_rc).ok();

    // Reinstalling runs the package's maintainer scripts, which (re)start its service.
    let cache = tempfile::tempdir().unwrap();
    let out = install(
        &["apt"],
        cache.path(),
        &[("RELEASE_GATE_APT_REINSTALL", "docker-registry")],
    );
    let log = std::fs::read_to_string(cache.path().join("logs/apt.log")).unwrap_or_default();
    assert!(
        out.status.success(),
        "{}\n{log}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        log.contains("Setting up docker-registry"),
        "nothing was installed: {log}"
    );

    assert!(
        alive(&registry.id().to_string()) && http_status(&url) == "200",
        "the install stopped a registry it did not start"
    );
    let started: Vec<String> = named_processes("docker-registry")
        .into_iter()
        .filter(|p| !registries_before.contains(p))
        .collect();
    assert!(
        started.is_empty(),
        "the install started a registry: {started:?}\n{log}"
    );
    assert_eq!(
        std::fs::read(policy_rc).ok(),
        policy_before,
        "policy-rc.d is not as it was before the install"
    );
    assert!(!Path::new("/usr/sbin/policy-rc.d.release-gate-saved").exists());
    let _ = registry.kill();
    let _ = registry.wait();
}

#[test]
#[ignore = "needs the real test bed: make test"]
fn olareg_serves_the_registry_api_on_loopback() {
    let port = support::free_port();
    // Its defaults listen on every interface and store in the working directory: both set here.
    let mut olareg = Command::new("olareg")
        .args(["serve", "--addr", "127.0.0.1", "--port", &port.to_string()])
        .args(["--store-type", "mem"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("olareg on PATH (make test builds it into ~/.cache/release-gate/bin)");
    let answered = wait_for_status(
        &format!("http://127.0.0.1:{port}/v2/"),
        "200",
        Duration::from_secs(20),
    );
    let _ = olareg.kill();
    let _ = olareg.wait();
    assert!(answered, "olareg did not answer /v2/ with 200");
}

#[test]
#[ignore = "needs the real test bed: make test"]
fn a_test_namespace_is_deleted_when_its_test_ends() {
    // As in every #[tokio::test]: a current-thread runtime, the namespace dropped as the test's
    // future ends, then the runtime shut down.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let name = runtime.block_on(async {
        let client = support::client().await;
        let ns = support::TestNamespace::new(&client, "dropped").await;
        ns.name.clone()
    });
    drop(runtime);
    let state = support::kubectl(&[
        "get",
        "namespace",
        &name,
        "--ignore-not-found",
        "-o",
        "jsonpath={.metadata.name} {.status.phase}",
    ]);
    assert!(
        state.is_empty() || state.ends_with("Terminating"),
        "namespace {name} is still there after its test: {state}"
    );
}

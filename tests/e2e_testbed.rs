//! The test bed's own promises: a failed tool build names the tool and its log, and a control
//! plane started by `e2e/cluster.sh` leaves no process and no directory behind when stopped.

use std::path::Path;
use std::process::Command;

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
    let pids: Vec<String> = std::fs::read_dir(dir.join("pids"))
        .unwrap()
        .map(|e| {
            std::fs::read_to_string(e.unwrap().path())
                .unwrap()
                .trim()
                .to_string()
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

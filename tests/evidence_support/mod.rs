//! The real test bed for evidence tests: Debian's `docker-registry` on a free loopback port
//! (killed on drop, also when a test panics), keys made by the real `cosign`, images pushed with
//! `crane`. A missing tool fails the test with the command that installs it.

#![allow(dead_code)]

#[path = "../common/unique.rs"]
mod unique;

pub mod oci;
pub mod sigstore;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const INSTALL_HINT: &str = "run `e2e/tools/install.sh cosign crane apt` and put ~/.cache/release-gate/bin on PATH (make test does)";
pub const PASSWORD: &str = "release-gate-test";

/// Finds a tool on PATH or fails the test.
pub fn tool(name: &str) -> PathBuf {
    if name == "docker-registry" && Path::new("/usr/bin/docker-registry").exists() {
        return PathBuf::from("/usr/bin/docker-registry");
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let p = dir.join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!("required tool `{name}` is not on PATH: {INSTALL_HINT}");
}

/// Runs a command, panicking with its output when it fails; returns stdout.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    if !out.status.success() {
        panic!(
            "{cmd:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A free loopback port.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A registry process plus a scratch directory.
pub struct Registry {
    child: Child,
    pub host: String,
    pub dir: tempfile::TempDir,
    /// Whether it serves the OCI 1.1 referrers API (olareg) or not (docker-registry 2.8: clients
    /// keep the referrers tag schema's index instead).
    pub referrers_api: bool,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Registry {
    pub fn start() -> Self {
        Self::start_with(None, None, None)
    }

    /// A registry whose storage is `root`, kept after it stops, on `port`: a benchmark signs its
    /// images once and serves them again in later runs (cosign's signatures name the host, so the
    /// port stays the same).
    pub fn start_with_storage(root: &std::path::Path, port: u16) -> Self {
        Self::start_on(None, None, None, Some((root, port)))
    }

    /// A registry serving HTTPS with the given PEM certificate and key.
    pub fn start_tls(cert_pem: &str, key_pem: &str) -> Self {
        Self::start_with(Some((cert_pem, key_pem)), None, None)
    }

    /// A registry that demands HTTP basic auth (an htpasswd file made by the real `htpasswd`)
    /// from `user`/`password`. The test tools (crane, cosign) get the credentials through the
    /// docker config in [`Registry::docker_config_dir`].
    pub fn start_basic_auth(user: &str, password: &str) -> Self {
        let htpasswd = run(Command::new(tool("htpasswd")).args(["-Bbn", user, password]));
        let reg = Self::start_with(None, Some(&htpasswd), None);
        let auth = {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        };
        let dir = reg.docker_config_dir();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("config.json"),
            serde_json::json!({"auths": {reg.host.clone(): {"auth": auth}}}).to_string(),
        )
        .unwrap();
        reg
    }

    /// The `DOCKER_CONFIG` directory crane and cosign use against this registry.
    pub fn docker_config_dir(&self) -> PathBuf {
        self.path("home").join(".docker")
    }

    /// crane with this registry's docker config.
    pub fn crane(&self) -> Command {
        let mut c = Command::new(tool("crane"));
        c.env("DOCKER_CONFIG", self.docker_config_dir());
        c
    }

    /// A registry that demands bearer tokens from the token service at `realm` (distribution's
    /// `auth: token`): JWTs issued by `issuer` for `service`, signed by a key whose certificate
    /// is in `root_pem`.
    pub fn start_token_auth(realm: &str, service: &str, issuer: &str, root_pem: &str) -> Self {
        Self::start_with(None, None, Some((realm, service, issuer, root_pem)))
    }

    fn start_with(
        tls: Option<(&str, &str)>,
        htpasswd: Option<&str>,
        token: Option<(&str, &str, &str, &str)>,
    ) -> Self {
        Self::start_on(tls, htpasswd, token, None)
    }

    fn start_on(
        tls: Option<(&str, &str)>,
        htpasswd: Option<&str>,
        token: Option<(&str, &str, &str, &str)>,
        storage: Option<(&std::path::Path, u16)>,
    ) -> Self {
        let bin = tool("docker-registry");
        let dir = tempfile::tempdir().expect("tempdir");
        let port = match storage {
            Some((_, port)) => port,
            None => free_port(),
        };
        let host = format!("127.0.0.1:{port}");
        let config = dir.path().join("config.yml");
        let root = storage.map_or_else(|| dir.path().join("data"), |(root, _)| root.to_owned());
        let mut yaml = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {host}\n",
            root.display()
        );
        if let Some((cert, key)) = tls {
            let (c, k) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
            std::fs::write(&c, cert).unwrap();
            std::fs::write(&k, key).unwrap();
            yaml.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                c.display(),
                k.display()
            ));
        }
        if let Some(entries) = htpasswd {
            let f = dir.path().join("htpasswd");
            std::fs::write(&f, entries).unwrap();
            yaml.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: release-gate-test\n    path: {}\n",
                f.display()
            ));
        }
        if let Some((realm, service, issuer, root_pem)) = token {
            let f = dir.path().join("token-root.pem");
            std::fs::write(&f, root_pem).unwrap();
            yaml.push_str(&format!(
                "auth:\n  token:\n    realm: {realm}\n    service: {service}\n    issuer: {issuer}\n    rootcertbundle: {}\n",
                f.display()
            ));
        }
        std::fs::write(&config, yaml).expect("write registry config");
        let log = std::fs::File::create(dir.path().join("registry.log")).expect("log file");
        let access = std::fs::File::create(dir.path().join("access.log")).expect("log file");
        let child = Command::new(bin)
            .arg("serve")
            .arg(&config)
            .stdout(access)
            .stderr(log)
            .spawn()
            .expect("start docker-registry");
        let reg = Self {
            child,
            host,
            dir,
            referrers_api: false,
        };
        reg.wait_listening("docker-registry", "registry.log");
        reg
    }

    /// olareg (an in-memory registry with the OCI 1.1 referrers API) on a free loopback port.
    pub fn start_olareg() -> Self {
        Self::start_olareg_on(None)
    }

    /// olareg serving the OCI layouts under `root` (kept after it stops) on `port`.
    pub fn start_olareg_with_storage(root: &std::path::Path, port: u16) -> Self {
        Self::start_olareg_on(Some((root, port)))
    }

    fn start_olareg_on(storage: Option<(&std::path::Path, u16)>) -> Self {
        let bin = tool("olareg");
        let dir = tempfile::tempdir().expect("tempdir");
        let port = match storage {
            Some((_, port)) => port,
            None => free_port(),
        };
        let store: Vec<std::ffi::OsString> = match storage {
            Some((root, _)) => vec![
                "--store-type".into(),
                "dir".into(),
                "--dir".into(),
                root.into(),
            ],
            None => vec!["--store-type".into(), "mem".into()],
        };
        let log = std::fs::File::create(dir.path().join("olareg.log")).expect("log file");
        let child = Command::new(bin)
            .args(["serve", "--addr", "127.0.0.1", "--port", &port.to_string()])
            .args(store)
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("start olareg");
        let reg = Self {
            child,
            host: format!("127.0.0.1:{port}"),
            dir,
            referrers_api: true,
        };
        reg.wait_listening("olareg", "olareg.log");
        reg
    }

    fn wait_listening(&self, name: &str, log: &str) {
        let reg = self;
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(&reg.host).is_err() {
            assert!(
                Instant::now() < deadline,
                "{name} did not listen on {} within 20s; log: {}",
                reg.host,
                std::fs::read_to_string(reg.dir.path().join(log)).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The registry's access log so far: one line per request (`"GET /v2/… HTTP/1.1" 200 …`).
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.path("access.log")).unwrap_or_default()
    }

    /// Pushes a fresh single-layer image (random content, so a distinct digest) and returns
    /// `host/repo@sha256:…`.
    pub fn push_image(&self, repo: &str, tag: &str) -> String {
        let work = self.path(&format!("img-{repo}-{tag}").replace('/', "_"));
        std::fs::create_dir_all(&work).unwrap();
        let nonce = unique::unique_u64();
        std::fs::write(
            work.join("hello.txt"),
            format!("release-gate test image {nonce}\n"),
        )
        .unwrap();
        let tar = work.join("layer.tar");
        run(Command::new("tar")
            .arg("-cf")
            .arg(&tar)
            .arg("-C")
            .arg(&work)
            .arg("hello.txt"));
        let reference = format!("{}/{repo}:{tag}", self.host);
        run(self
            .crane()
            .args(["append", "--insecure", "-f"])
            .arg(&tar)
            .args(["-t", &reference]));
        let digest = run(self.crane().args(["digest", "--insecure", &reference]));
        format!("{}/{repo}@{}", self.host, digest.trim())
    }
}

/// A cosign key pair made by `cosign generate-key-pair`.
pub struct KeyPair {
    pub key: PathBuf,
    pub public: PathBuf,
}

/// The cosign command with a private HOME so nothing leaks between runs.
pub fn cosign(reg: &Registry) -> Command {
    let mut c = Command::new(tool("cosign"));
    let home = reg.path("home");
    std::fs::create_dir_all(&home).unwrap();
    c.env("COSIGN_PASSWORD", PASSWORD)
        .env("HOME", &home)
        .env("DOCKER_CONFIG", reg.docker_config_dir())
        .env("SIGSTORE_NO_CACHE", "true")
        .env("COSIGN_EXPERIMENTAL", "0")
        .current_dir(reg.dir.path());
    c
}

pub fn generate_key(reg: &Registry, name: &str) -> KeyPair {
    let prefix = reg.path(name);
    run(cosign(reg)
        .args(["generate-key-pair", "--output-key-prefix"])
        .arg(&prefix));
    KeyPair {
        key: prefix.with_extension("key"),
        public: prefix.with_extension("pub"),
    }
}

/// A key made by `openssl genpkey` with `genpkey_args` (e.g. `-algorithm ed25519`) and imported
/// with `cosign import-key-pair`, as a team bringing its own key would.
pub fn import_key(reg: &Registry, name: &str, genpkey_args: &[&str]) -> KeyPair {
    let pem = reg.path(&format!("{name}.openssl.pem"));
    run(Command::new(tool("openssl"))
        .arg("genpkey")
        .args(genpkey_args)
        .arg("-out")
        .arg(&pem));
    let prefix = reg.path(name);
    run(cosign(reg)
        .args(["import-key-pair", "--key"])
        .arg(&pem)
        .arg("--output-key-prefix")
        .arg(&prefix));
    KeyPair {
        key: prefix.with_extension("key"),
        public: prefix.with_extension("pub"),
    }
}

pub fn sign(reg: &Registry, key: &KeyPair, image: &str) {
    run(cosign(reg)
        .args([
            "sign",
            "--yes",
            "--tlog-upload=false",
            "--allow-insecure-registry",
            "--key",
        ])
        .arg(&key.key)
        .arg(image));
}

pub fn attest(reg: &Registry, key: &KeyPair, image: &str, kind: &str, predicate: &Path) {
    run(cosign(reg)
        .args([
            "attest",
            "--yes",
            "--tlog-upload=false",
            "--allow-insecure-registry",
            "--key",
        ])
        .arg(&key.key)
        .args(["--type", kind, "--predicate"])
        .arg(predicate)
        .arg(image));
}

/// `cosign sign` in the Sigstore bundle format: a bundle v0.3 attached as an OCI 1.1 referrer
/// (through the referrers tag schema on docker-registry 2.8, which lacks the referrers API).
pub fn sign_bundle(reg: &Registry, key: &KeyPair, image: &str) {
    run(cosign(reg)
        .args([
            "sign",
            "--yes",
            "--new-bundle-format",
            "--tlog-upload=false",
            "--allow-insecure-registry",
            "--key",
        ])
        .arg(&key.key)
        .arg(image));
}

/// `cosign attest` in the Sigstore bundle format.
pub fn attest_bundle(reg: &Registry, key: &KeyPair, image: &str, kind: &str, predicate: &Path) {
    run(cosign(reg)
        .args([
            "attest",
            "--yes",
            "--new-bundle-format",
            "--tlog-upload=false",
            "--allow-insecure-registry",
            "--key",
        ])
        .arg(&key.key)
        .args(["--type", kind, "--predicate"])
        .arg(predicate)
        .arg(image));
}

/// Signs `image` and attests it with all three attestations (CycloneDX SBOM, SLSA v0.2
/// provenance, the vulnerability report fixture `vuln_report` as a cosign vuln predicate).
pub fn sign_and_attest(reg: &Registry, key: &KeyPair, image: &str, vuln_report: &str) {
    sign(reg, key, image);
    attest(reg, key, image, "cyclonedx", &fixture("sbom.cdx.json"));
    attest(
        reg,
        key,
        image,
        "slsaprovenance",
        &fixture("slsa-provenance-v02.json"),
    );
    attest(
        reg,
        key,
        image,
        "vuln",
        &cosign_vuln_predicate(reg, vuln_report),
    );
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("e2e/fixtures")
        .join(name)
}

/// Wraps a Trivy report in cosign's vulnerability predicate (what `trivy --format cosign-vuln`
/// writes), scanned now, and returns the file.
pub fn cosign_vuln_predicate(reg: &Registry, report: &str) -> PathBuf {
    cosign_vuln_predicate_at(reg, report, jiff::Timestamp::now())
}

/// [`cosign_vuln_predicate`] of a fixture file, scanned at `scanned`.
pub fn cosign_vuln_predicate_at(reg: &Registry, report: &str, scanned: jiff::Timestamp) -> PathBuf {
    let result: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture(report)).unwrap()).unwrap();
    write_cosign_vuln(reg, report, result, scanned)
}

/// Wraps the scanner report `result` in cosign's vulnerability predicate, scanned at `scanned`,
/// and writes it to a file named after `name`.
pub fn write_cosign_vuln(
    reg: &Registry,
    name: &str,
    result: serde_json::Value,
    scanned: jiff::Timestamp,
) -> PathBuf {
    let pred = serde_json::json!({
        "invocation": {"parameters": null, "uri": "", "event_id": "", "builder.id": ""},
        "scanner": {"uri": "pkg:github/aquasecurity/trivy@v0.50.0", "version": "v0.50.0",
            "db": {"uri": "", "version": ""}, "result": result},
        "metadata": {"scanStartedOn": scanned.to_string(), "scanFinishedOn": scanned.to_string()}
    });
    let p = reg.path(&format!(
        "cosign-vuln-{}-{}.json",
        name.replace('/', "_"),
        unique::unique_u64()
    ));
    std::fs::write(&p, serde_json::to_vec_pretty(&pred).unwrap()).unwrap();
    p
}

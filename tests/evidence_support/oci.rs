//! Raw OCI distribution calls against the test registry, as an attacker with push access (and
//! no signing key) would make them: upload a blob, push or rewrite a manifest. Plain HTTP/1.1 over
//! a socket, so nothing in the way normalises what is sent.

use std::process::Command;

use release_gate::evidence::ImageRef;

use super::{Registry, run, tool};

pub fn http(
    reg: &Registry,
    method: &str,
    path_and_query: &str,
    content_type: &str,
    body: &[u8],
) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(&reg.host).unwrap();
    write!(
        s,
        "{method} {path_and_query} HTTP/1.1\r\nHost: {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        reg.host,
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let status = resp
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, resp)
}

pub fn upload_blob(reg: &Registry, repo: &str, blob: &[u8]) {
    let (status, resp) = http(
        reg,
        "POST",
        &format!("/v2/{repo}/blobs/uploads/"),
        "application/octet-stream",
        b"",
    );
    assert_eq!(status, 202, "{resp}");
    let location = resp
        .lines()
        .find_map(|l| {
            l.strip_prefix("Location: ")
                .or_else(|| l.strip_prefix("location: "))
        })
        .unwrap()
        .trim()
        .to_owned();
    let path = location
        .split_once(&reg.host)
        .map_or(location.as_str(), |(_, p)| p)
        .to_owned();
    let sep = if path.contains('?') { '&' } else { '?' };
    let digest = release_gate::evidence::Digest::of(blob);
    let (status, resp) = http(
        reg,
        "PUT",
        &format!("{path}{sep}digest={digest}"),
        "application/octet-stream",
        blob,
    );
    assert_eq!(status, 201, "{resp}");
}

pub fn put_manifest(reg: &Registry, repo: &str, tag: &str, body: &[u8], media_type: &str) {
    let (status, resp) = http(
        reg,
        "PUT",
        &format!("/v2/{repo}/manifests/{tag}"),
        media_type,
        body,
    );
    assert_eq!(status, 201, "{resp}");
}

pub fn digest_of(image: &str) -> release_gate::evidence::Digest {
    ImageRef::parse(image).unwrap().digest.unwrap()
}

/// Edits the manifest at `tag` (e.g. its unsigned annotations) and pushes it back.
pub fn edit_manifest(reg: &Registry, repo: &str, tag: &str, edit: impl Fn(&mut serde_json::Value)) {
    let crane = tool("crane");
    let reference = format!("{}/{repo}:{tag}", reg.host);
    let mut manifest: serde_json::Value = serde_json::from_str(&run(Command::new(&crane).args([
        "manifest",
        "--insecure",
        &reference,
    ])))
    .unwrap();
    edit(&mut manifest);
    let media_type = manifest["mediaType"]
        .as_str()
        .unwrap_or("application/vnd.oci.image.manifest.v1+json")
        .to_owned();
    put_manifest(
        reg,
        repo,
        tag,
        &serde_json::to_vec(&manifest).unwrap(),
        &media_type,
    );
}

/// The media type of Sigstore bundle v0.3 (referrer artifact type and layer).
pub const BUNDLE_V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
const EMPTY_CONFIG: &str = "application/vnd.oci.empty.v1+json";

/// Attaches `bundle` to `subject` as cosign does: an OCI 1.1 referrer manifest (empty config,
/// one bundle layer, `subject` set) pushed by digest, and on a registry without the referrers
/// API the referrers tag schema's index (`sha256-<hex>`) updated to list it. Returns the
/// referrer's digest.
pub fn push_bundle_referrer(
    reg: &Registry,
    repo: &str,
    subject: &release_gate::evidence::Digest,
    subject_size: usize,
    bundle: &[u8],
    predicate_type: Option<&str>,
) -> release_gate::evidence::Digest {
    use release_gate::evidence::Digest;
    upload_blob(reg, repo, b"{}");
    upload_blob(reg, repo, bundle);
    let mut annotations = serde_json::json!({"dev.sigstore.bundle.content":
        if predicate_type.is_some() { "dsse-envelope" } else { "message-signature" }});
    if let Some(t) = predicate_type {
        annotations["dev.sigstore.bundle.predicateType"] = t.into();
    }
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": BUNDLE_V03,
        "config": {"mediaType": EMPTY_CONFIG, "digest": Digest::of(b"{}").to_string(), "size": 2},
        "layers": [{"mediaType": BUNDLE_V03, "digest": Digest::of(bundle).to_string(),
            "size": bundle.len()}],
        "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": subject.to_string(), "size": subject_size},
        "annotations": annotations,
    });
    let bytes = serde_json::to_vec(&manifest).unwrap();
    let digest = Digest::of(&bytes);
    put_manifest(
        reg,
        repo,
        digest.as_str(),
        &bytes,
        "application/vnd.oci.image.manifest.v1+json",
    );
    if !reg.referrers_api {
        let tag = format!("sha256-{}", subject.hex());
        let existing = reg
            .crane()
            .args([
                "manifest",
                "--insecure",
                &format!("{}/{repo}:{tag}", reg.host),
            ])
            .output()
            .unwrap();
        let mut index: serde_json::Value = if existing.status.success() {
            serde_json::from_slice(&existing.stdout).unwrap()
        } else {
            serde_json::json!({"schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []})
        };
        index["manifests"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": digest.to_string(), "size": bytes.len(),
                "artifactType": BUNDLE_V03, "annotations": manifest["annotations"].clone()}));
        put_manifest(
            reg,
            repo,
            &tag,
            &serde_json::to_vec(&index).unwrap(),
            "application/vnd.oci.image.index.v1+json",
        );
    }
    digest
}

/// The raw manifest bytes of `image` (`host/repo@sha256:…`), checked against the digest.
pub fn manifest_bytes(reg: &Registry, image: &str) -> Vec<u8> {
    let out = reg
        .crane()
        .args(["manifest", "--insecure", image])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        release_gate::evidence::Digest::of(&out.stdout),
        digest_of(image),
        "crane manifest did not print the manifest byte for byte"
    );
    out.stdout
}

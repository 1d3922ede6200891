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

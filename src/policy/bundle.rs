//! A policy bundle as plain data: its files, its digest and its version, read from a directory
//! or from a ConfigMap, before anything is parsed. Keeping this step pure lets the digest pin be
//! checked before a single line of Rego reaches the evaluator.
//!
//! **Digest.** `sha256:<hex>` of, for every file in byte order of its relative path (`/`
//! separated): the path's UTF-8 bytes, one `0x00` byte, the content length as a big-endian
//! `u64`, then the content. Paths cannot hold NUL, so the framing is unambiguous; every file
//! counts (README, examples, tests, `.manifest`), so any change to what was reviewed changes
//! the digest.
//!
//! **Version.** The `revision` of the OPA bundle manifest `.manifest`, so `opa` and the gate
//! report the same version.
//!
//! **ConfigMap layout.** ConfigMap keys cannot contain `/`, so a file at `a/b/c.json` is stored
//! under the key `a__b__c.json` (every `__` in a key is a directory separator). A ConfigMap
//! mounted as a volume (a directory holding the kubelet's `..data` link) is read the same way,
//! through `..data` resolved once: the kubelet swaps that link atomically, so resolving it once
//! reads one consistent generation, never half of the old bundle and half of the new.
//!
//! **Links.** Symbolic links are followed; one that dangles, or that leads back into a
//! directory being read (a loop), is an error naming it, never a file silently skipped.
//!
//! **What the gate compiles.** Every file counts for the digest, but the gate compiles only
//! policy and data ([`is_policy_file`]): tests and examples are for the `test_*` runner.

use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The file that carries the bundle's version (OPA's bundle manifest).
pub const MANIFEST: &str = ".manifest";

/// In a ConfigMap key, this separator stands for `/`.
pub const CONFIG_MAP_SEPARATOR: &str = "__";

/// Refuses bundles beyond this many files or bytes: a bundle is a few dozen small text files,
/// and a ConfigMap holds at most 1 MiB, so anything far larger is a mistake, not a policy.
const MAX_FILES: usize = 2_000;
const MAX_BYTES: u64 = 32 * 1024 * 1024;

/// Why a bundle's files could not be read.
#[derive(Debug, Error)]
pub enum BundleError {
    #[error("cannot read policy bundle directory {path}: {source}")]
    ReadDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read policy bundle file {path}: {source}")]
    ReadFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("policy bundle file {path} has a name that is not UTF-8; rename it")]
    NonUtf8Name { path: PathBuf },
    #[error(
        "policy bundle link {path} dangles (its target does not exist); remove it or restore the target"
    )]
    DanglingLink { path: PathBuf },
    #[error(
        "policy bundle link {path} leads back into {target}, a directory already being read (a link loop); remove the link"
    )]
    LinkLoop { path: PathBuf, target: PathBuf },
    #[error(
        "policy bundle {origin} holds no .rego file; point at the bundle's root directory (the one with {MANIFEST})"
    )]
    NoRego { origin: String },
    #[error(
        "policy bundle {origin} is too large (over {MAX_FILES} files or {MAX_BYTES} bytes); a bundle holds policy text, not data dumps"
    )]
    TooLarge { origin: String },
    #[error(
        "ConfigMap key {key:?} does not name a bundle file: keys are relative paths with `__` for `/`, without empty, `.` or `..` parts"
    )]
    ConfigMapKey { key: String },
    #[error(
        "{origin}/{MANIFEST} is not a valid OPA bundle manifest: {message}; write JSON such as {{\"revision\": \"1.1.0\"}}"
    )]
    Manifest { origin: String, message: String },
}

/// A bundle's files, keyed by their `/`-separated path relative to the bundle root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    origin: String,
    files: BTreeMap<String, Vec<u8>>,
}

impl Bundle {
    /// Builds a bundle from in-memory files. `origin` names it in messages (a directory path or
    /// `configmap/<namespace>/<name>`) and prefixes the file names the evaluator reports.
    pub fn from_files(
        origin: impl Into<String>,
        files: BTreeMap<String, Vec<u8>>,
    ) -> Result<Self, BundleError> {
        let origin = origin.into();
        let total: u64 = files.values().map(|c| c.len() as u64).sum();
        if files.len() > MAX_FILES || total > MAX_BYTES {
            return Err(BundleError::TooLarge { origin });
        }
        for path in files.keys() {
            if !valid_relative_path(path) {
                return Err(BundleError::ConfigMapKey { key: path.clone() });
            }
        }
        if !files.keys().any(|p| p.ends_with(".rego")) {
            return Err(BundleError::NoRego { origin });
        }
        Ok(Self { origin, files })
    }

    /// Reads every regular file under `dir` (following symbolic links). A directory that is a
    /// mounted ConfigMap (it holds `..data`) is read with the ConfigMap key layout instead.
    pub fn from_dir(dir: &Path) -> Result<Self, BundleError> {
        let origin = dir.display().to_string();
        let origin = origin.trim_end_matches('/').to_string();
        let data_link = dir.join("..data");
        if data_link.symlink_metadata().is_ok() {
            // Resolve the generation once and read only from it (see the module docs).
            let generation = canonical(&data_link)?;
            let mut data = BTreeMap::new();
            for entry in read_dir(&generation)? {
                let (name, path) = entry?;
                if name.starts_with("..") {
                    continue;
                }
                let meta = std::fs::metadata(&path).map_err(|source| link_error(&path, source))?;
                if meta.is_file() {
                    data.insert(name, read_file(&path)?);
                }
            }
            return Self::from_config_map_data(origin, &data);
        }
        let mut files = BTreeMap::new();
        let mut open = vec![canonical(dir)?];
        walk(dir, "", &mut files, &mut open)?;
        Self::from_files(origin, files)
    }

    /// Builds a bundle from a ConfigMap's `data`/`binaryData` entries (`a__b.json` is the file
    /// `a/b.json`).
    pub fn from_config_map_data(
        origin: impl Into<String>,
        data: &BTreeMap<String, Vec<u8>>,
    ) -> Result<Self, BundleError> {
        let mut files = BTreeMap::new();
        for (key, content) in data {
            let path = key.replace(CONFIG_MAP_SEPARATOR, "/");
            if !valid_relative_path(&path) {
                return Err(BundleError::ConfigMapKey { key: key.clone() });
            }
            files.insert(path, content.clone());
        }
        Self::from_files(origin, files)
    }

    /// The ConfigMap data that [`Bundle::from_config_map_data`] reads back into this bundle.
    pub fn to_config_map_data(&self) -> BTreeMap<String, Vec<u8>> {
        self.files
            .iter()
            .map(|(p, c)| (p.replace('/', CONFIG_MAP_SEPARATOR), c.clone()))
            .collect()
    }

    /// Where the bundle came from, for messages.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The files, by relative path.
    pub fn files(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.files
    }

    /// `sha256:<hex>` over the sorted paths and contents (framing in the module docs).
    pub fn digest(&self) -> String {
        let mut hasher = Sha256::new();
        for (path, content) in &self.files {
            hasher.update(path.as_bytes());
            hasher.update([0u8]);
            hasher.update((content.len() as u64).to_be_bytes());
            hasher.update(content);
        }
        format!("sha256:{}", hex::encode(hasher.finalize()))
    }

    /// The manifest's `revision`, or `None` when the bundle has no `.manifest`.
    pub fn version(&self) -> Result<Option<String>, BundleError> {
        let Some(raw) = self.files.get(MANIFEST) else {
            return Ok(None);
        };
        let manifest_error = |message: String| BundleError::Manifest {
            origin: self.origin.clone(),
            message,
        };
        let manifest: serde_json::Value =
            serde_json::from_slice(raw).map_err(|e| manifest_error(e.to_string()))?;
        match manifest.get("revision") {
            None => Ok(None),
            Some(serde_json::Value::String(r)) => Ok(Some(r.clone())),
            Some(other) => Err(manifest_error(format!(
                "`revision` must be a string, found {other}"
            ))),
        }
    }
}

/// True for `a/b.c`-style paths: no leading `/`, no empty, `.` or `..` components.
fn valid_relative_path(path: &str) -> bool {
    !path.is_empty()
        && !path.contains('\0')
        && path
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
}

type DirEntries = Vec<Result<(String, PathBuf), BundleError>>;

fn read_dir(dir: &Path) -> Result<DirEntries, BundleError> {
    let entries = std::fs::read_dir(dir).map_err(|source| BundleError::ReadDir {
        path: dir.to_path_buf(),
        source,
    })?;
    Ok(entries
        .map(|entry| {
            let entry = entry.map_err(|source| BundleError::ReadDir {
                path: dir.to_path_buf(),
                source,
            })?;
            let path = entry.path();
            let name = entry
                .file_name()
                .into_string()
                .map_err(|_| BundleError::NonUtf8Name { path: path.clone() })?;
            Ok((name, path))
        })
        .collect())
}

fn read_file(path: &Path) -> Result<Vec<u8>, BundleError> {
    std::fs::read(path).map_err(|source| BundleError::ReadFile {
        path: path.to_path_buf(),
        source,
    })
}

/// True for the files the gate compiles: Rego that is not a test, and data outside the
/// directories that hold tests, examples and fixtures. Every file still counts for the digest.
pub fn is_policy_file(path: &str) -> bool {
    const NOT_POLICY_DIRS: [&str; 4] = ["examples", "fixtures", "testdata", "tests"];
    let name = path.rsplit('/').next().unwrap_or(path);
    if name.ends_with("_test.rego") {
        return false;
    }
    !path
        .split('/')
        .rev()
        .skip(1)
        .any(|dir| NOT_POLICY_DIRS.contains(&dir))
}

fn canonical(path: &Path) -> Result<PathBuf, BundleError> {
    std::fs::canonicalize(path).map_err(|source| link_error(path, source))
}

/// A path that cannot be resolved: a dangling link, or a plain read error.
fn link_error(path: &Path, source: std::io::Error) -> BundleError {
    let is_link = path
        .symlink_metadata()
        .is_ok_and(|m| m.file_type().is_symlink());
    if is_link && source.kind() == std::io::ErrorKind::NotFound {
        BundleError::DanglingLink {
            path: path.to_path_buf(),
        }
    } else {
        BundleError::ReadFile {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Reads the files under `dir`; `open` holds the canonical paths of the directories being
/// read, so a link back into one of them is reported instead of followed forever.
fn walk(
    dir: &Path,
    prefix: &str,
    files: &mut BTreeMap<String, Vec<u8>>,
    open: &mut Vec<PathBuf>,
) -> Result<(), BundleError> {
    for entry in read_dir(dir)? {
        let (name, path) = entry?;
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let meta = std::fs::metadata(&path).map_err(|source| link_error(&path, source))?;
        if meta.is_dir() {
            let target = canonical(&path)?;
            if open.contains(&target) {
                return Err(BundleError::LinkLoop { path, target });
            }
            open.push(target);
            walk(&path, &rel, files, open)?;
            open.pop();
        } else if meta.is_file() {
            if files.len() >= MAX_FILES {
                return Err(BundleError::TooLarge {
                    origin: dir.display().to_string(),
                });
            }
            files.insert(rel, read_file(&path)?);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle(files: &[(&str, &str)]) -> Bundle {
        let files = files
            .iter()
            .map(|(p, c)| (p.to_string(), c.as_bytes().to_vec()))
            .collect();
        Bundle::from_files("test", files).expect("valid bundle")
    }

    #[test]
    fn digest_follows_the_documented_framing() {
        let b = bundle(&[("b.rego", "package b"), ("a/x.json", "{}")]);
        let mut h = Sha256::new();
        for (p, c) in [("a/x.json", "{}"), ("b.rego", "package b")] {
            h.update(p.as_bytes());
            h.update([0]);
            h.update((c.len() as u64).to_be_bytes());
            h.update(c.as_bytes());
        }
        assert_eq!(b.digest(), format!("sha256:{}", hex::encode(h.finalize())));
    }

    #[test]
    fn digest_changes_with_any_path_or_byte() {
        let a = bundle(&[("p.rego", "package p\nx := 1")]);
        let b = bundle(&[("p.rego", "package p\nx := 2")]);
        let c = bundle(&[("q.rego", "package p\nx := 1")]);
        // Moving bytes between path and content must not collide.
        let d = bundle(&[("p.rego", "package p"), ("p.regox", "")]);
        let e = bundle(&[("p.rego", "package pp.regox")]);
        let digests = [a.digest(), b.digest(), c.digest(), d.digest(), e.digest()];
        for (i, x) in digests.iter().enumerate() {
            for y in &digests[i + 1..] {
                assert_ne!(x, y);
            }
        }
    }

    #[test]
    fn config_map_round_trip_keeps_digest() {
        let b = bundle(&[
            (".manifest", r#"{"revision":"1.1.0"}"#),
            ("examples/ok/input.json", "{}"),
            ("p.rego", "package p"),
        ]);
        let data = b.to_config_map_data();
        assert!(data.contains_key("examples__ok__input.json"));
        let back = Bundle::from_config_map_data("configmap/gate/policy", &data).expect("valid");
        assert_eq!(back.digest(), b.digest());
        assert_eq!(back.version().expect("manifest"), Some("1.1.0".into()));
    }

    #[test]
    fn config_map_keys_cannot_escape_the_bundle() {
        let mut data = BTreeMap::new();
        data.insert("p.rego".to_string(), b"package p".to_vec());
        data.insert("..__etc__passwd".to_string(), Vec::new());
        let err = Bundle::from_config_map_data("cm", &data).expect_err("must refuse");
        assert!(
            err.to_string().contains("does not name a bundle file"),
            "{err}"
        );
    }

    #[test]
    fn bundle_without_rego_is_refused() {
        let err = Bundle::from_files("empty", BTreeMap::new()).expect_err("must refuse");
        assert!(err.to_string().contains("holds no .rego file"), "{err}");
    }

    #[test]
    fn bad_manifest_names_the_file_and_the_fix() {
        let b = bundle(&[(".manifest", "{revision: 1"), ("p.rego", "package p")]);
        let err = b.version().expect_err("must refuse");
        assert!(
            err.to_string()
                .contains("test/.manifest is not a valid OPA bundle manifest"),
            "{err}"
        );
    }

    #[test]
    fn only_policy_and_data_are_compiled_by_the_gate() {
        for (path, policy) in [
            ("admission.rego", true),
            ("data.json", true),
            ("lib/x.rego", true),
            ("admission_test.rego", false),
            ("examples/admit/input.json", false),
            ("fixtures/a.json", false),
            ("sub/testdata/b.yaml", false),
            ("examples.rego", true),
        ] {
            assert_eq!(is_policy_file(path), policy, "{path}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn dangling_links_and_link_loops_are_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("p.rego"), "package p").expect("write");
        std::os::unix::fs::symlink(dir.path().join("gone.rego"), dir.path().join("q.rego"))
            .expect("link");
        let err = Bundle::from_dir(dir.path()).expect_err("dangling");
        assert!(matches!(err, BundleError::DanglingLink { .. }), "{err}");
        assert!(err.to_string().contains("q.rego dangles"), "{err}");

        std::fs::remove_file(dir.path().join("q.rego")).expect("rm");
        std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
        std::os::unix::fs::symlink(dir.path(), dir.path().join("sub/loop")).expect("link");
        let err = Bundle::from_dir(dir.path()).expect_err("loop");
        assert!(matches!(err, BundleError::LinkLoop { .. }), "{err}");
    }

    /// The kubelet swaps `..data` to a new generation; the files of the old generation, still
    /// linked from the top level, must not be mixed in.
    #[cfg(unix)]
    #[test]
    fn a_mounted_config_map_is_read_through_one_generation() {
        let dir = tempfile::tempdir().expect("tempdir");
        let old = dir.path().join("..2026_01_01");
        let new = dir.path().join("..2026_01_02");
        for (generation, body) in [(&old, "package p\nv := 1"), (&new, "package p\nv := 2")] {
            std::fs::create_dir(generation).expect("mkdir");
            std::fs::write(generation.join("p.rego"), body).expect("write");
        }
        std::os::unix::fs::symlink(&new, dir.path().join("..data")).expect("link");
        // A top-level entry still pointing into the old generation (mid-swap).
        std::os::unix::fs::symlink(old.join("p.rego"), dir.path().join("p.rego")).expect("link");
        let b = Bundle::from_dir(dir.path()).expect("bundle");
        assert_eq!(b.files()["p.rego"], b"package p\nv := 2");
    }

    #[test]
    fn reads_a_mounted_config_map_volume() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data_dir = dir.path().join("..2026_01_01_00_00_00.000000001");
        std::fs::create_dir(&data_dir).expect("mkdir");
        std::fs::write(data_dir.join("p.rego"), "package p").expect("write");
        std::fs::write(data_dir.join("ex__a__input.json"), "{}").expect("write");
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(&data_dir, dir.path().join("..data")).expect("link");
            for name in ["p.rego", "ex__a__input.json"] {
                std::os::unix::fs::symlink(
                    dir.path().join("..data").join(name),
                    dir.path().join(name),
                )
                .expect("link");
            }
            let b = Bundle::from_dir(dir.path()).expect("bundle");
            let paths: Vec<_> = b.files().keys().cloned().collect();
            assert_eq!(paths, ["ex/a/input.json", "p.rego"]);
        }
    }
}

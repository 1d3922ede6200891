//! Attestation predicates turned into a typed summary: what an SBOM lists and who built the image
//! from which source (vulnerability reports are [`super::vulns`]). Strict: an SBOM or a provenance
//! that does not say what its format requires (CycloneDX's `specVersion` and `components`, SLSA's
//! builder id and build type) is an error, as is an SBOM of one format under the other's predicate
//! type. Pure functions over JSON, so they can be unit-tested and fuzzed without a registry.

use serde::Serialize;
use serde_json::Value;

use super::reference::Digest;

/// Predicate types by the short names cosign's `--type` accepts.
pub const CYCLONEDX: &str = "https://cyclonedx.org/bom";
pub const SPDX: &str = "https://spdx.dev/Document";
pub const SLSA_V02: &str = "https://slsa.dev/provenance/v0.2";
pub const SLSA_V1: &str = "https://slsa.dev/provenance/v1";
pub const COSIGN_VULN: &str = "https://cosign.sigstore.dev/attestation/vuln/v1";
/// Raw scanner reports attested under their own types (e.g. `--type https://…/trivy`) are
/// recognised by shape, so no constant is needed for them.
pub const COSIGN_CUSTOM: &str = "https://cosign.sigstore.dev/attestation/v1";

/// Maps cosign's short predicate names to URIs; full URIs pass through.
pub fn predicate_type_uri(name: &str) -> &str {
    match name {
        "cyclonedx" => CYCLONEDX,
        "spdx" | "spdxjson" => SPDX,
        "slsaprovenance" | "slsaprovenance02" => SLSA_V02,
        "slsaprovenance1" => SLSA_V1,
        "vuln" => COSIGN_VULN,
        "custom" => COSIGN_CUSTOM,
        other => other,
    }
}

/// What kind of evidence a predicate type carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PredicateKind {
    Sbom,
    Provenance,
    Vulnerabilities,
    Other,
}

pub fn kind_of(predicate_type: &str) -> PredicateKind {
    match predicate_type {
        CYCLONEDX | SPDX => PredicateKind::Sbom,
        SLSA_V02 | SLSA_V1 => PredicateKind::Provenance,
        COSIGN_VULN => PredicateKind::Vulnerabilities,
        t if t.starts_with("https://spdx.dev/Document") => PredicateKind::Sbom,
        t if t.starts_with("https://cyclonedx.org/bom") => PredicateKind::Sbom,
        _ => PredicateKind::Other,
    }
}

/// Why a predicate cannot be summarised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PredicateError {
    #[error("not JSON: {0}")]
    Json(String),
    #[error("{format}: {why}")]
    Shape { format: &'static str, why: String },
}

fn shape(format: &'static str, why: impl Into<String>) -> PredicateError {
    PredicateError::Shape {
        format,
        why: why.into(),
    }
}

/// What an SBOM says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SbomSummary {
    /// `CycloneDX 1.5`, `SPDX-2.3`.
    pub format: String,
    pub components: u32,
    /// Distinct licence ids or expressions, sorted.
    pub licenses: Vec<String>,
    /// The sha256 of the SBOM document as attested (canonical JSON: sorted keys, no spaces).
    pub digest: String,
}

/// Summarises an SBOM attested under `predicate_type`: a CycloneDX (JSON) document under a
/// CycloneDX type, an SPDX (JSON) document under an SPDX type.
pub fn parse_sbom(predicate_type: &str, doc: &Value) -> Result<SbomSummary, PredicateError> {
    let digest = Digest::of(serde_json::to_string(doc).unwrap_or_default().as_bytes()).to_string();
    let is_cyclonedx = doc.get("bomFormat").is_some();
    let is_spdx = doc.get("spdxVersion").is_some();
    if is_cyclonedx_type(predicate_type) {
        if is_spdx && !is_cyclonedx {
            return Err(shape(
                "CycloneDX",
                format!(
                    "an SPDX document (spdxVersion) attested under the CycloneDX predicate type {predicate_type}: attest it with `cosign attest --type spdxjson`"
                ),
            ));
        }
        return parse_cyclonedx(doc, digest);
    }
    if is_spdx_type(predicate_type) {
        if is_cyclonedx && !is_spdx {
            return Err(shape(
                "SPDX",
                format!(
                    "a CycloneDX document (bomFormat) attested under the SPDX predicate type {predicate_type}: attest it with `cosign attest --type cyclonedx`"
                ),
            ));
        }
        return parse_spdx(doc, digest);
    }
    Err(shape(
        "SBOM",
        format!(
            "predicate type {predicate_type} is neither CycloneDX ({CYCLONEDX}) nor SPDX ({SPDX})"
        ),
    ))
}

fn is_cyclonedx_type(t: &str) -> bool {
    t.starts_with(CYCLONEDX)
}

fn is_spdx_type(t: &str) -> bool {
    t.starts_with(SPDX)
}

fn parse_cyclonedx(doc: &Value, digest: String) -> Result<SbomSummary, PredicateError> {
    const F: &str = "CycloneDX";
    if doc.get("bomFormat").and_then(Value::as_str) != Some("CycloneDX") {
        return Err(shape(F, "bomFormat is not \"CycloneDX\""));
    }
    let version = match doc.get("specVersion") {
        Some(Value::String(v)) if !v.trim().is_empty() => v.as_str(),
        _ => {
            return Err(shape(
                F,
                "specVersion is missing: a CycloneDX document must say which version of the specification it follows (e.g. \"1.6\")",
            ));
        }
    };
    let mut components = 0u32;
    let mut licenses = std::collections::BTreeSet::new();
    let mut stack: Vec<&Value> = match doc.get("components") {
        Some(Value::Array(a)) => a.iter().collect(),
        None | Some(Value::Null) => {
            return Err(shape(
                F,
                "components is missing: an SBOM must list the image's components (an empty array when it has none)",
            ));
        }
        Some(_) => return Err(shape(F, "components is not an array")),
    };
    // Components nest; walk them without recursion so deep input cannot overflow the stack.
    while let Some(c) = stack.pop() {
        components = components.saturating_add(1);
        // Declared licences, and (CycloneDX 1.5+) licences a tool detected as evidence.
        let declared = c.get("licenses").and_then(Value::as_array);
        let detected = c.pointer("/evidence/licenses").and_then(Value::as_array);
        for ls in declared.into_iter().chain(detected) {
            for l in ls {
                let name = l
                    .get("expression")
                    .or_else(|| l.pointer("/license/id"))
                    .or_else(|| l.pointer("/license/name"))
                    .and_then(Value::as_str);
                if let Some(n) = name {
                    licenses.insert(n.to_owned());
                }
            }
        }
        if let Some(Value::Array(children)) = c.get("components") {
            stack.extend(children.iter());
        }
    }
    Ok(SbomSummary {
        format: format!("CycloneDX {version}"),
        components,
        licenses: licenses.into_iter().collect(),
        digest,
    })
}

fn parse_spdx(doc: &Value, digest: String) -> Result<SbomSummary, PredicateError> {
    const F: &str = "SPDX";
    let version = match doc.get("spdxVersion") {
        Some(Value::String(v)) if !v.trim().is_empty() => v.as_str(),
        _ => return Err(shape(F, "spdxVersion is missing (e.g. \"SPDX-2.3\")")),
    };
    let packages = match doc.get("packages") {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(a)) => a.as_slice(),
        Some(_) => return Err(shape(F, "packages is not an array")),
    };
    let licenses = packages
        .iter()
        .filter_map(|p| {
            p.get("licenseConcluded")
                .or_else(|| p.get("licenseDeclared"))
                .and_then(Value::as_str)
        })
        .filter(|l| !matches!(*l, "NOASSERTION" | "NONE"))
        .map(str::to_owned)
        .collect::<std::collections::BTreeSet<_>>();
    Ok(SbomSummary {
        format: version.to_owned(),
        components: u32::try_from(packages.len()).unwrap_or(u32::MAX),
        licenses: licenses.into_iter().collect(),
        digest,
    })
}

/// Who built the image, from what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProvenanceSummary {
    /// `v0.2` or `v1`.
    pub slsa_version: String,
    pub builder_id: String,
    pub build_type: String,
    /// The source repository URI, if the provenance names one.
    pub source_repo: Option<String>,
    /// The source commit, if the provenance names one.
    pub source_commit: Option<String>,
}

/// What every verified provenance must name, as slsa-verifier's `--builder-id` and
/// `--source-uri` say it. Set by the platform's trust configuration, never by the artifact.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProvenanceRequirements {
    /// The builder: `https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml`
    /// matches that builder at any version (`…@refs/tags/v1.9.0`); with `@ref` it must match exactly.
    pub builder_id: Option<String>,
    /// The source repository (`github.com/org/repo`): compared without the `git+` prefix, the
    /// scheme, the `@ref` and a trailing `.git` on either side.
    pub source_uri: Option<String>,
}

/// A provenance that names another builder or source than the trust configuration requires.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[error("provenance {field} is {found}, but the trust configuration requires {expected}")]
pub struct ProvenanceMismatch {
    /// `builder id` or `source repository`.
    pub field: &'static str,
    pub expected: String,
    pub found: String,
}

impl ProvenanceRequirements {
    pub fn is_empty(&self) -> bool {
        self.builder_id.is_none() && self.source_uri.is_none()
    }

    /// Checks one provenance summary.
    pub fn check(&self, p: &ProvenanceSummary) -> Result<(), ProvenanceMismatch> {
        if let Some(want) = &self.builder_id {
            let found = &p.builder_id;
            let matches = if want.contains('@') {
                found == want
            } else {
                found.split_once('@').map_or(found.as_str(), |(id, _)| id) == want
            };
            if !matches {
                return Err(ProvenanceMismatch {
                    field: "builder id",
                    expected: want.clone(),
                    found: found.clone(),
                });
            }
        }
        if let Some(want) = &self.source_uri {
            let found = p.source_repo.as_deref();
            if found.map(normalise_source) != Some(normalise_source(want)) {
                return Err(ProvenanceMismatch {
                    field: "source repository",
                    expected: want.clone(),
                    found: found.unwrap_or("not named").to_owned(),
                });
            }
        }
        Ok(())
    }
}

/// `git+https://github.com/o/r.git@refs/heads/main` → `github.com/o/r`.
fn normalise_source(uri: &str) -> String {
    let uri = uri.trim();
    let uri = uri.strip_prefix("git+").unwrap_or(uri);
    let uri = uri.split_once("://").map_or(uri, |(_, rest)| rest);
    let uri = uri.split_once('@').map_or(uri, |(repo, _)| repo);
    let uri = uri.trim_end_matches('/');
    uri.strip_suffix(".git").unwrap_or(uri).to_owned()
}

/// Summarises a SLSA provenance predicate of the given version's type.
pub fn parse_slsa(predicate_type: &str, p: &Value) -> Result<ProvenanceSummary, PredicateError> {
    const F: &str = "SLSA provenance";
    let s = |ptr: &str| p.pointer(ptr).and_then(Value::as_str).map(str::to_owned);
    // Present and not blank: an empty builder id names no one.
    let required = |ptr: &str, what: &str| {
        s(ptr)
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| shape(F, format!("{what} is missing or empty: the provenance must name who built the image and how")))
    };
    let commit_of = |d: Option<&Value>| {
        d.and_then(|d| {
            ["gitCommit", "sha1", "sha256"]
                .iter()
                .find_map(|k| d.get(*k).and_then(Value::as_str))
        })
        .map(str::to_owned)
    };
    if !p.is_object() {
        return Err(shape(F, "predicate is not an object"));
    }
    match predicate_type {
        SLSA_V02 => {
            let builder_id = required("/builder/id", "v0.2 builder.id")?;
            let build_type = required("/buildType", "v0.2 buildType")?;
            let (repo, commit) = match s("/invocation/configSource/uri") {
                Some(uri) => (
                    Some(uri),
                    commit_of(p.pointer("/invocation/configSource/digest")),
                ),
                None => (
                    s("/materials/0/uri"),
                    commit_of(p.pointer("/materials/0/digest")),
                ),
            };
            Ok(ProvenanceSummary {
                slsa_version: "v0.2".into(),
                builder_id,
                build_type,
                source_repo: repo,
                source_commit: commit,
            })
        }
        SLSA_V1 => {
            let builder_id = required("/runDetails/builder/id", "v1 runDetails.builder.id")?;
            let build_type =
                required("/buildDefinition/buildType", "v1 buildDefinition.buildType")?;
            let dep = p.pointer("/buildDefinition/resolvedDependencies/0");
            let repo = dep
                .and_then(|d| d.get("uri"))
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or_else(|| s("/buildDefinition/externalParameters/workflow/repository"))
                .or_else(|| s("/buildDefinition/externalParameters/source"));
            Ok(ProvenanceSummary {
                slsa_version: "v1".into(),
                builder_id,
                build_type,
                source_repo: repo,
                source_commit: commit_of(dep.and_then(|d| d.get("digest"))),
            })
        }
        other => Err(shape(
            F,
            format!("predicate type {other} is not SLSA v0.2 or v1"),
        )),
    }
}

/// Parses bytes as JSON, for callers (and fuzzers) that start from raw input.
pub fn json(bytes: &[u8]) -> Result<Value, PredicateError> {
    serde_json::from_slice(bytes).map_err(|e| PredicateError::Json(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fixture(name: &str) -> Value {
        let p = format!("{}/e2e/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        json(&std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))).unwrap()
    }

    #[test]
    fn cyclonedx_fixture_summary() {
        let s = parse_sbom(CYCLONEDX, &fixture("sbom.cdx.json")).unwrap();
        assert!(s.format.starts_with("CycloneDX 1."));
        assert!(s.components >= 5, "{s:?}");
        assert!(s.licenses.iter().any(|l| l.contains("MIT")), "{s:?}");
        assert!(s.digest.starts_with("sha256:"));
    }

    #[test]
    fn spdx_summary() {
        let d = json!({"spdxVersion": "SPDX-2.3", "packages": [
            {"name": "a", "licenseConcluded": "MIT"}, {"name": "b", "licenseConcluded": "NOASSERTION"}]});
        let s = parse_sbom(SPDX, &d).unwrap();
        assert_eq!((s.format.as_str(), s.components), ("SPDX-2.3", 2));
        assert_eq!(s.licenses, ["MIT"]);
    }

    fn sbom_err(predicate_type: &str, doc: Value) -> String {
        match parse_sbom(predicate_type, &doc) {
            Err(e) => e.to_string(),
            Ok(s) => panic!("{doc} under {predicate_type} accepted as {s:?}"),
        }
    }

    #[test]
    fn sboms_must_say_what_their_format_requires_under_their_own_type() {
        let e = sbom_err(CYCLONEDX, json!({"bomFormat": "CycloneDX"}));
        assert!(e.contains("specVersion is missing"), "{e}");
        let e = sbom_err(
            CYCLONEDX,
            json!({"bomFormat": "CycloneDX", "specVersion": "1.6"}),
        );
        assert!(e.contains("components is missing"), "{e}");
        let e = sbom_err(
            CYCLONEDX,
            json!({"bomFormat": "CycloneDX", "specVersion": "", "components": []}),
        );
        assert!(e.contains("specVersion is missing"), "{e}");
        let e = sbom_err(
            CYCLONEDX,
            json!({"spdxVersion": "SPDX-2.3", "packages": []}),
        );
        assert!(e.contains("--type spdxjson"), "{e}");
        let e = sbom_err(SPDX, fixture("sbom.cdx.json"));
        assert!(e.contains("--type cyclonedx"), "{e}");
        let e = sbom_err(SLSA_V1, fixture("sbom.cdx.json"));
        assert!(e.contains("neither CycloneDX"), "{e}");
        // An empty components array is an SBOM of an image with no components.
        let empty = json!({"bomFormat": "CycloneDX", "specVersion": "1.6", "components": []});
        assert_eq!(parse_sbom(CYCLONEDX, &empty).unwrap().components, 0);
        // Versioned predicate types are of their format.
        assert!(parse_sbom("https://cyclonedx.org/bom/v1.6", &empty).is_ok());
    }

    fn v02() -> Value {
        json!({"builder": {"id": "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v1.9.0"},
            "buildType": "https://example.com/build@v1",
            "invocation": {"configSource": {"uri": "git+https://github.com/o/r@refs/heads/main",
                "digest": {"sha1": "abc"}}}})
    }

    #[test]
    fn slsa_v02_and_v1() {
        let s = parse_slsa(SLSA_V02, &v02()).unwrap();
        assert!(
            s.builder_id
                .starts_with("https://github.com/slsa-framework/")
        );
        assert_eq!(s.source_commit.as_deref(), Some("abc"));
        let v1 = json!({"buildDefinition": {"buildType": "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1",
            "resolvedDependencies": [{"uri": "git+https://github.com/o/r@refs/tags/v1", "digest": {"gitCommit": "def"}}]},
            "runDetails": {"builder": {"id": "https://github.com/slsa-framework/slsa-github-generator"}}});
        let s = parse_slsa(SLSA_V1, &v1).unwrap();
        assert_eq!(s.slsa_version, "v1");
        assert_eq!(
            s.source_repo.as_deref(),
            Some("git+https://github.com/o/r@refs/tags/v1")
        );
        assert_eq!(s.source_commit.as_deref(), Some("def"));
        assert!(parse_slsa(SLSA_V1, &v02()).is_err());
        assert!(parse_slsa(SLSA_V02, &v1).is_err());
    }

    #[test]
    fn slsa_needs_a_non_empty_builder_id_and_build_type() {
        for (t, doc, field) in [
            (
                SLSA_V02,
                json!({"builder": {"id": ""}, "buildType": "b"}),
                "builder.id",
            ),
            (
                SLSA_V02,
                json!({"builder": {"id": "x"}, "buildType": "  "}),
                "buildType",
            ),
            (
                SLSA_V02,
                json!({"builder": {}, "buildType": "b"}),
                "builder.id",
            ),
            (
                SLSA_V1,
                json!({"runDetails": {"builder": {"id": ""}}, "buildDefinition": {"buildType": "b"}}),
                "runDetails.builder.id",
            ),
            (
                SLSA_V1,
                json!({"runDetails": {"builder": {"id": "x"}}, "buildDefinition": {"buildType": ""}}),
                "buildDefinition.buildType",
            ),
        ] {
            let e = parse_slsa(t, &doc).unwrap_err().to_string();
            assert!(e.contains(&format!("{field} is missing or empty")), "{e}");
        }
    }

    #[test]
    fn provenance_requirements_match_as_slsa_verifier_does() {
        let p = parse_slsa(SLSA_V02, &v02()).unwrap();
        let req = |b: Option<&str>, s: Option<&str>| ProvenanceRequirements {
            builder_id: b.map(str::to_owned),
            source_uri: s.map(str::to_owned),
        };
        const B: &str = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml";
        assert!(req(None, None).is_empty());
        assert_eq!(req(Some(B), Some("github.com/o/r")).check(&p), Ok(()));
        assert_eq!(
            req(Some(&format!("{B}@refs/tags/v1.9.0")), None).check(&p),
            Ok(())
        );
        assert_eq!(
            req(None, Some("https://github.com/o/r.git")).check(&p),
            Ok(())
        );
        let e = req(Some(&format!("{B}@refs/tags/v2.0.0")), None)
            .check(&p)
            .unwrap_err();
        assert_eq!(e.field, "builder id");
        let e = req(Some("https://github.com/attacker/builder"), None)
            .check(&p)
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("requires https://github.com/attacker/builder"),
            "{e}"
        );
        let e = req(None, Some("github.com/o/other")).check(&p).unwrap_err();
        assert_eq!(
            (e.field, e.found.as_str()),
            (
                "source repository",
                "git+https://github.com/o/r@refs/heads/main"
            )
        );
        // A repository whose name only starts like the required one is another repository.
        assert!(
            req(None, Some("github.com/o/r"))
                .check(&ProvenanceSummary {
                    source_repo: Some("git+https://github.com/o/r-fork@refs/heads/main".into()),
                    ..p.clone()
                })
                .is_err()
        );
        let unnamed = ProvenanceSummary {
            source_repo: None,
            ..p
        };
        assert_eq!(
            req(None, Some("github.com/o/r"))
                .check(&unnamed)
                .unwrap_err()
                .found,
            "not named"
        );
    }

    #[test]
    fn garbage_predicates_are_errors() {
        for bad in [
            json!(null),
            json!(1),
            json!("x"),
            json!([]),
            json!({}),
            json!({"bomFormat": "CycloneDX", "specVersion": "1.5", "components": 3}),
            json!({"spdxVersion": "x", "packages": {}}),
        ] {
            assert!(parse_sbom(CYCLONEDX, &bad).is_err(), "{bad}");
            assert!(parse_sbom(SPDX, &bad).is_err(), "{bad}");
            assert!(parse_slsa(SLSA_V02, &bad).is_err(), "{bad}");
            assert!(parse_slsa(SLSA_V1, &bad).is_err(), "{bad}");
        }
        assert!(json(b"\xff{").is_err());
        // Nesting as deep as serde_json parses (128 levels) is summarised.
        let mut deep = json!({"name": "leaf"});
        for _ in 0..60 {
            deep = json!({"components": [deep]});
        }
        let doc = json!({"bomFormat": "CycloneDX", "specVersion": "1.5", "components": [deep]});
        assert_eq!(parse_sbom(CYCLONEDX, &doc).unwrap().components, 61);
    }
}

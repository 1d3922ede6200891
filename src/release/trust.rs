//! From `TrustPolicy` objects to the trust a verification uses: which policies cover an image
//! (reference globs), their keys and keyless authorities (inline, or read from Secrets and
//! ConfigMaps in the operator's namespace), and what they require of provenance and of the
//! vulnerability report's age. Only the loading of Secrets and ConfigMaps talks to the API; the
//! rest is pure and unit-tested.

use crate::api::{KeySelector, StringMatch, TrustPolicy};
use crate::evidence::keyless::KeylessAuthority;
use crate::evidence::predicates::ProvenanceSummary;
use crate::evidence::{self, KeylessIdentity, Matcher, TrustedKey, TrustedRoot};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::{Api, ResourceExt};
use std::sync::Arc;
use std::time::Duration;

/// Whether `name` (`registry/repository`, no tag or digest) matches the glob `pattern`: `*`
/// matches within one path segment, a `**` segment matches any number of segments.
pub fn glob_matches(pattern: &str, name: &str) -> bool {
    let p: Vec<&str> = pattern.trim().split('/').collect();
    let n: Vec<&str> = name.split('/').collect();
    segments_match(&p, &n)
}

fn segments_match(p: &[&str], n: &[&str]) -> bool {
    match (p.first(), n.first()) {
        (None, None) => true,
        (Some(&"**"), _) => {
            segments_match(&p[1..], n) || (!n.is_empty() && segments_match(p, &n[1..]))
        }
        (Some(ps), Some(ns)) => {
            segment_match(ps.as_bytes(), ns.as_bytes()) && segments_match(&p[1..], &n[1..])
        }
        _ => false,
    }
}

fn segment_match(p: &[u8], s: &[u8]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) => (0..=s.len()).any(|i| segment_match(rest, &s[i..])),
        Some((c, rest)) => s.first() == Some(c) && segment_match(rest, &s[1..]),
    }
}

/// The TrustPolicies whose `images` cover `name` (`registry/repository`), by name order.
pub fn covering<'a>(policies: &'a [TrustPolicy], name: &str) -> Vec<&'a TrustPolicy> {
    let mut out: Vec<&TrustPolicy> = policies
        .iter()
        .filter(|tp| tp.spec.images.iter().any(|g| glob_matches(g, name)))
        .collect();
    out.sort_by_key(|tp| tp.name_any());
    out
}

/// The trust a release is verified with, built from its covering TrustPolicies.
#[derive(Debug, Default)]
pub struct Trust {
    /// Keys and keyless authorities of every covering policy.
    pub authorities: evidence::TrustPolicy,
    /// Names of the covering policies.
    pub policies: Vec<String>,
    /// Authorities that could not be loaded, each naming the policy, the field and the fix.
    pub problems: Vec<String>,
    /// Provenance requirements; provenance must meet one of them (a policy without one accepts
    /// any). Empty when no covering policy states one.
    pub provenance: Vec<(String, crate::api::ProvenanceRequirement)>,
    /// The strictest maximum report age of the covering policies.
    pub max_report_age: Option<Duration>,
    /// A Secret or ConfigMap could not be read for a passing reason: no verdict now.
    pub transient: Option<String>,
}

impl Trust {
    /// Why `p` does not meet the provenance requirements, or `None` when it does.
    pub fn provenance_problem(&self, p: &ProvenanceSummary) -> Option<String> {
        if self.provenance.is_empty() {
            return None;
        }
        let mut why = Vec::new();
        for (tp, req) in &self.provenance {
            let mut fails = Vec::new();
            if let Some(b) = &req.builder
                && b != &p.builder_id
            {
                fails.push(format!("builder {:?} is not {b:?}", p.builder_id));
            }
            if let Some(prefix) = &req.source_prefix {
                match &p.source_repo {
                    Some(r) if r.starts_with(prefix.as_str()) => {}
                    Some(r) => fails.push(format!("source {r:?} does not start with {prefix:?}")),
                    None => fails.push(format!("no source repository (needs {prefix:?})")),
                }
            }
            if fails.is_empty() {
                return None;
            }
            why.push(format!("TrustPolicy {tp}: {}", fails.join(", ")));
        }
        Some(format!(
            "the provenance does not meet the trust policy ({}); build the image with the required builder from the required source",
            why.join("; ")
        ))
    }
}

/// Parses a duration such as `90s`, `30m`, `6h` or `7d`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let unit = s.chars().last()?;
    let n: u64 = s[..s.len() - unit.len_utf8()].parse().ok()?;
    let secs = match unit {
        's' => n,
        'm' => n.checked_mul(60)?,
        'h' => n.checked_mul(3600)?,
        'd' => n.checked_mul(86_400)?,
        _ => return None,
    };
    Some(Duration::from_secs(secs))
}

fn matcher(m: &StringMatch, field: &str) -> Result<Matcher, String> {
    match (&m.exact, &m.regex) {
        (Some(e), None) => Ok(Matcher::Exact(e.clone())),
        (None, Some(r)) => Matcher::regex(r).map_err(|e| format!("{field}.regex: {e}")),
        _ => Err(format!("{field}: give exactly one of exact or regex")),
    }
}

/// Why a key or trust root could not be read.
#[derive(Clone)]
enum KeyError {
    /// The reference is wrong (no such object or key, or not allowed): not trusted.
    Config(String),
    /// The API server did not answer: judge later.
    Transient(String),
}

/// Reads the data key of a Secret or ConfigMap in `namespace`.
async fn read_key(
    client: &kube::Client,
    namespace: &str,
    sel: &KeySelector,
    secret: bool,
) -> Result<Vec<u8>, KeyError> {
    let what = if secret { "Secret" } else { "ConfigMap" };
    let missing = || {
        KeyError::Config(format!(
            "{what} {namespace}/{} has no key {:?}; add it or fix the reference",
            sel.name, sel.key
        ))
    };
    // A missing or forbidden object is the platform's configuration to fix; anything else
    // (an API server that does not answer) is a fault that must not change a verdict.
    let fetch_err = |e: kube::Error| {
        let msg = format!("cannot read {what} {namespace}/{}: {e}", sel.name);
        match e {
            kube::Error::Api(s) if s.code == 404 || s.code == 403 => KeyError::Config(msg),
            _ => KeyError::Transient(msg),
        }
    };
    if secret {
        let s = Api::<Secret>::namespaced(client.clone(), namespace)
            .get(&sel.name)
            .await
            .map_err(fetch_err)?;
        s.data
            .and_then(|d| d.get(&sel.key).map(|b| b.0.clone()))
            .ok_or_else(missing)
    } else {
        let c = Api::<ConfigMap>::namespaced(client.clone(), namespace)
            .get(&sel.name)
            .await
            .map_err(fetch_err)?;
        c.data
            .as_ref()
            .and_then(|d| d.get(&sel.key).map(|s| s.as_bytes().to_vec()))
            .or_else(|| {
                c.binary_data
                    .and_then(|d| d.get(&sel.key).map(|b| b.0.clone()))
            })
            .ok_or_else(missing)
    }
}

/// A Secret or ConfigMap key a TrustPolicy references.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    /// A Secret (`spec.keys[].secretRef`) or a ConfigMap (`spec.keyless[].trustedRoot`).
    pub secret: bool,
    pub name: String,
    pub key: String,
    /// Where the policy names it, e.g. `TrustPolicy ci spec.keys[0].secretRef`.
    pub field: String,
}

/// Every Secret and ConfigMap key `tp` references (they live in the operator's namespace).
pub fn references(tp: &TrustPolicy) -> Vec<Reference> {
    let name = tp.name_any();
    let keys = tp.spec.keys.iter().enumerate().filter_map(|(i, k)| {
        k.secret_ref.as_ref().map(|sel| Reference {
            secret: true,
            name: sel.name.clone(),
            key: sel.key.clone(),
            field: format!("TrustPolicy {name} spec.keys[{i}].secretRef"),
        })
    });
    let roots = tp.spec.keyless.iter().enumerate().map(|(i, a)| Reference {
        secret: false,
        name: a.trusted_root.name.clone(),
        key: a.trusted_root.key.clone(),
        field: format!("TrustPolicy {name} spec.keyless[{i}].trustedRoot"),
    });
    keys.chain(roots).collect()
}

/// Builds the trust of the covering policies; Secrets and ConfigMaps are read from
/// `operator_namespace`. What cannot be loaded is reported in [`Trust::problems`], not trusted.
pub async fn load(
    client: &kube::Client,
    operator_namespace: &str,
    policies: &[&TrustPolicy],
) -> Trust {
    let mut read = std::collections::HashMap::new();
    for r in policies.iter().flat_map(|tp| references(tp)) {
        if let std::collections::hash_map::Entry::Vacant(e) =
            read.entry((r.secret, r.name.clone(), r.key.clone()))
        {
            let sel = KeySelector {
                name: r.name,
                key: r.key,
            };
            e.insert(read_key(client, operator_namespace, &sel, r.secret).await);
        }
    }
    assemble(policies, |secret, sel| {
        read.get(&(secret, sel.name.clone(), sel.key.clone()))
            .cloned()
            .unwrap_or_else(|| Err(KeyError::Config("not read".into())))
    })
}

/// The trust of policies that reference no Secret or ConfigMap (the CLI's `--trust-policy`,
/// which cannot read the cluster), or an error naming the first reference and the fix.
pub fn inline(policies: &[&TrustPolicy]) -> Result<Trust, String> {
    if let Some(r) = policies.iter().flat_map(|tp| references(tp)).next() {
        let fix = if r.secret {
            "inline the public key as pem: instead of secretRef"
        } else {
            "the keyless trusted root is read from a ConfigMap; give the trusted_root.json with --trusted-root and the identity with --certificate-identity/--certificate-oidc-issuer instead"
        };
        return Err(format!(
            "{} names {} {}/{}, which the CLI cannot read (it lives in the cluster); {fix}",
            r.field,
            if r.secret { "Secret" } else { "ConfigMap" },
            r.name,
            r.key
        ));
    }
    let trust = assemble(policies, |_, _| {
        Err(KeyError::Config("not available outside the cluster".into()))
    });
    match trust.problems.first() {
        Some(p) => Err(p.clone()),
        None => Ok(trust),
    }
}

/// Builds the trust of `policies`, with `read` giving the data of a referenced Secret
/// (`true`) or ConfigMap key. Pure apart from `read`.
fn assemble(
    policies: &[&TrustPolicy],
    read: impl Fn(bool, &KeySelector) -> Result<Vec<u8>, KeyError>,
) -> Trust {
    let mut trust = Trust::default();
    for tp in policies {
        let name = tp.name_any();
        trust.policies.push(name.clone());
        for (i, k) in tp.spec.keys.iter().enumerate() {
            let field = format!("TrustPolicy {name} spec.keys[{i}] ({})", k.name);
            let pem = match (&k.pem, &k.secret_ref) {
                (Some(pem), None) => Ok(pem.as_bytes().to_vec()),
                (None, Some(sel)) => read(true, sel),
                _ => Err(KeyError::Config(
                    "give exactly one of pem or secretRef".to_owned(),
                )),
            };
            match pem.and_then(|pem| {
                TrustedKey::from_pem(format!("{name}/{}", k.name), &pem)
                    .map_err(|e| KeyError::Config(e.to_string()))
            }) {
                Ok(key) => trust.authorities.keys.push(key),
                Err(KeyError::Config(e)) => trust.problems.push(format!("{field}: {e}")),
                Err(KeyError::Transient(e)) => trust.transient = Some(format!("{field}: {e}")),
            }
        }
        for (i, a) in tp.spec.keyless.iter().enumerate() {
            let field = format!("TrustPolicy {name} spec.keyless[{i}]");
            let authority = (|| {
                let identity = matcher(&a.identity, "identity").map_err(KeyError::Config)?;
                let issuer = matcher(&a.issuer, "issuer").map_err(KeyError::Config)?;
                let json = read(false, &a.trusted_root)?;
                let root = TrustedRoot::from_json(
                    format!("configmap/{}/{}", a.trusted_root.name, a.trusted_root.key),
                    &json,
                )
                .map_err(|e| KeyError::Config(format!("trustedRoot: {e}")))?;
                Ok::<_, KeyError>(KeylessAuthority {
                    root: Arc::new(root),
                    identity: KeylessIdentity {
                        issuer,
                        subject: identity,
                    },
                })
            })();
            match authority {
                Ok(a) => trust.authorities.keyless.push(a),
                Err(KeyError::Config(e)) => trust.problems.push(format!("{field}: {e}")),
                Err(KeyError::Transient(e)) => trust.transient = Some(format!("{field}: {e}")),
            }
        }
        if let Some(req) = &tp.spec.provenance {
            trust.provenance.push((name.clone(), req.clone()));
        }
        if let Some(age) = &tp.spec.max_vulnerability_report_age {
            match parse_duration(age) {
                Some(d) => {
                    trust.max_report_age = Some(trust.max_report_age.map_or(d, |m| m.min(d)))
                }
                // Fail closed: an unreadable limit is the strictest one.
                None => {
                    trust.problems.push(format!(
                        "TrustPolicy {name} spec.maxVulnerabilityReportAge {age:?} is not a duration such as 72h"
                    ));
                    trust.max_report_age = Some(Duration::ZERO);
                }
            }
        }
    }
    // The evidence layer judges the reports' age too (evidence v2 merges every report and knows
    // each scan time): the strictest TrustPolicy limit, or none when no policy sets one.
    trust.authorities.max_report_age = trust
        .max_report_age
        .unwrap_or(Duration::from_secs(100 * 365 * 86_400));
    // A policy that names no provenance requirement accepts any provenance.
    if policies.iter().any(|tp| tp.spec.provenance.is_none()) {
        trust.provenance.clear();
    }
    trust
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ProvenanceRequirement, TrustPolicySpec};

    fn tp(name: &str, images: &[&str]) -> TrustPolicy {
        TrustPolicy::new(
            name,
            TrustPolicySpec {
                images: images.iter().map(|s| s.to_string()).collect(),
                keys: vec![],
                keyless: vec![],
                provenance: None,
                max_vulnerability_report_age: None,
            },
        )
    }

    #[test]
    fn globs_match_segments_and_double_stars_any_depth() {
        assert!(glob_matches("reg.example/team/*", "reg.example/team/app"));
        assert!(!glob_matches(
            "reg.example/team/*",
            "reg.example/team/sub/app"
        ));
        assert!(!glob_matches("reg.example/team/*", "reg.example/other/app"));
        assert!(glob_matches("reg.example/**", "reg.example/team/sub/app"));
        assert!(glob_matches("127.0.0.1:*/e2e-*", "127.0.0.1:5000/e2e-abc"));
        assert!(glob_matches("reg.example/team/app", "reg.example/team/app"));
        assert!(!glob_matches(
            "reg.example/team/app",
            "reg.example/team/app2"
        ));
        assert!(!glob_matches(
            "reg.example/team/app",
            "evil.example/team/app"
        ));
        assert!(!glob_matches("", "reg.example/app"));
    }

    #[test]
    fn only_policies_whose_globs_cover_the_image_judge_it() {
        let all = [
            tp("b", &["reg/team/*"]),
            tp("a", &["reg/**"]),
            tp("c", &["other/*"]),
        ];
        let names: Vec<String> = covering(&all, "reg/team/app")
            .iter()
            .map(|t| t.name_any())
            .collect();
        assert_eq!(names, ["a", "b"]);
        assert!(covering(&all, "nobody/app").is_empty());
    }

    #[test]
    fn durations_parse_and_garbage_does_not() {
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("6h"), Some(Duration::from_secs(21_600)));
        assert_eq!(parse_duration("7d"), Some(Duration::from_secs(604_800)));
        for bad in ["", "h", "5", "5w", "-5m", "99999999999999999999d"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn provenance_must_meet_one_requirement() {
        let p = ProvenanceSummary {
            slsa_version: "1".into(),
            builder_id: "https://ci.example/builder".into(),
            build_type: "t".into(),
            source_repo: Some("git+https://github.com/example/app".into()),
            source_commit: None,
        };
        let mut trust = Trust::default();
        assert_eq!(trust.provenance_problem(&p), None);
        trust.provenance.push((
            "strict".into(),
            ProvenanceRequirement {
                builder: Some("https://other/builder".into()),
                source_prefix: None,
            },
        ));
        let why = trust.provenance_problem(&p).expect("wrong builder");
        assert!(
            why.contains("TrustPolicy strict") && why.contains("other/builder"),
            "{why}"
        );
        trust.provenance.push((
            "ok".into(),
            ProvenanceRequirement {
                builder: Some("https://ci.example/builder".into()),
                source_prefix: Some("git+https://github.com/example/".into()),
            },
        ));
        assert_eq!(trust.provenance_problem(&p), None);
    }
}

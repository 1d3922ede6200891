//! The keyless trust root: a Sigstore `trusted_root.json` (media type
//! `application/vnd.dev.sigstore.trustedroot+json`) handed over by the platform team as a file.
//!
//! Why a file and not TUF: the gate must decide the same way with or without network, and the
//! platform team — not whatever a TUF mirror serves at start-up — decides which Fulcio CAs and
//! Rekor logs count. So this module only parses; it never fetches. Only the parts keyless
//! verification needs are kept: Fulcio certificate chains and Rekor log keys, each with its
//! validity window. CT logs and timestamp authorities are ignored (see `keyless.rs`).

use std::path::Path;

use serde::Deserialize;

use super::crypto::b64;
use sha2::Digest as _;

/// Why a trust root file cannot be used. Every message names the file and, where it applies,
/// the JSON field.
#[derive(Debug, thiserror::Error)]
pub enum TrustRootError {
    #[error("cannot read trusted root '{name}': {source}")]
    Read {
        name: String,
        #[source]
        source: std::io::Error,
    },
    #[error("trusted root '{name}' is not a Sigstore trusted_root.json: {source}")]
    Json {
        name: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("trusted root '{name}': field {field}: {why}")]
    Field {
        name: String,
        field: String,
        why: String,
    },
    #[error(
        "trusted root '{name}' has no usable certificate authority and no transparency log: nothing could verify"
    )]
    Empty { name: String },
}

/// A Fulcio CA: its chain (issuing intermediate(s) first, self-signed root last, all DER) and
/// when it may have issued certificates.
#[derive(Debug, Clone)]
pub struct CertificateAuthority {
    pub uri: String,
    pub chain: Vec<Vec<u8>>,
    pub valid_for: Validity,
}

/// A Rekor log: its key (DER SubjectPublicKeyInfo), the key id entries name it by
/// (SHA-256 of the DER key), and when it was in use.
#[derive(Debug, Clone)]
pub struct TransparencyLog {
    pub base_url: String,
    pub key_id: Vec<u8>,
    pub key_details: String,
    pub public_key_der: Vec<u8>,
    pub valid_for: Validity,
}

/// A `validFor` window in Unix seconds; an absent end means "still valid".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    pub start: i64,
    pub end: Option<i64>,
}

impl Validity {
    pub fn contains(&self, t: i64) -> bool {
        t >= self.start && self.end.is_none_or(|end| t <= end)
    }
}

/// The parsed trust root.
#[derive(Debug, Clone)]
pub struct TrustedRoot {
    /// Where it was loaded from, for messages.
    pub name: String,
    pub certificate_authorities: Vec<CertificateAuthority>,
    pub tlogs: Vec<TransparencyLog>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRoot {
    media_type: Option<String>,
    #[serde(default)]
    tlogs: Vec<RawTlog>,
    #[serde(default)]
    certificate_authorities: Vec<RawCa>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTlog {
    #[serde(default)]
    base_url: String,
    public_key: Option<RawPublicKey>,
    log_id: Option<RawLogId>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPublicKey {
    raw_bytes: Option<String>,
    #[serde(default)]
    key_details: String,
    valid_for: Option<RawValidity>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLogId {
    key_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCa {
    #[serde(default)]
    uri: String,
    cert_chain: Option<RawChain>,
    valid_for: Option<RawValidity>,
}

#[derive(Deserialize)]
struct RawChain {
    #[serde(default)]
    certificates: Vec<RawCert>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCert {
    raw_bytes: String,
}

#[derive(Deserialize)]
struct RawValidity {
    start: Option<String>,
    end: Option<String>,
}

impl TrustedRoot {
    /// Reads and parses `path`.
    pub fn from_file(path: &Path) -> Result<Self, TrustRootError> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| TrustRootError::Read {
            name: name.clone(),
            source,
        })?;
        Self::from_json(name, &bytes)
    }

    /// Parses a `trusted_root.json` document; `name` is used in error messages.
    pub fn from_json(name: impl Into<String>, json: &[u8]) -> Result<Self, TrustRootError> {
        let name = name.into();
        let raw: RawRoot = serde_json::from_slice(json).map_err(|source| TrustRootError::Json {
            name: name.clone(),
            source,
        })?;
        let field = |field: String, why: String| TrustRootError::Field {
            name: name.clone(),
            field,
            why,
        };
        if let Some(mt) = &raw.media_type
            && !mt.starts_with("application/vnd.dev.sigstore.trustedroot")
        {
            return Err(field(
                "mediaType".into(),
                format!("'{mt}' is not application/vnd.dev.sigstore.trustedroot+json"),
            ));
        }
        let mut certificate_authorities = Vec::new();
        for (i, ca) in raw.certificate_authorities.iter().enumerate() {
            let at = format!("certificateAuthorities[{i}]");
            let certs = ca
                .cert_chain
                .as_ref()
                .map(|c| c.certificates.as_slice())
                .unwrap_or_default();
            if certs.is_empty() {
                return Err(field(format!("{at}.certChain"), "no certificates".into()));
            }
            let chain = certs
                .iter()
                .enumerate()
                .map(|(j, c)| {
                    b64(&c.raw_bytes).ok_or_else(|| {
                        field(
                            format!("{at}.certChain.certificates[{j}].rawBytes"),
                            "not base64".into(),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let valid_for = validity(ca.valid_for.as_ref())
                .map_err(|why| field(format!("{at}.validFor"), why))?;
            certificate_authorities.push(CertificateAuthority {
                uri: ca.uri.clone(),
                chain,
                valid_for,
            });
        }
        let mut tlogs = Vec::new();
        for (i, log) in raw.tlogs.iter().enumerate() {
            let at = format!("tlogs[{i}]");
            let pk = log
                .public_key
                .as_ref()
                .ok_or_else(|| field(format!("{at}.publicKey"), "missing".into()))?;
            let public_key_der = pk.raw_bytes.as_deref().and_then(b64).ok_or_else(|| {
                field(
                    format!("{at}.publicKey.rawBytes"),
                    "missing or not base64".into(),
                )
            })?;
            let key_id = match &log.log_id {
                Some(id) => b64(&id.key_id)
                    .ok_or_else(|| field(format!("{at}.logId.keyId"), "not base64".into()))?,
                None => sha2::Sha256::digest(&public_key_der).to_vec(),
            };
            let valid_for = validity(pk.valid_for.as_ref())
                .map_err(|why| field(format!("{at}.publicKey.validFor"), why))?;
            tlogs.push(TransparencyLog {
                base_url: log.base_url.clone(),
                key_id,
                key_details: pk.key_details.clone(),
                public_key_der,
                valid_for,
            });
        }
        if certificate_authorities.is_empty() && tlogs.is_empty() {
            return Err(TrustRootError::Empty { name });
        }
        Ok(Self {
            name,
            certificate_authorities,
            tlogs,
        })
    }

    /// The Rekor log an entry names by key id.
    pub fn tlog(&self, key_id: &[u8]) -> Option<&TransparencyLog> {
        self.tlogs.iter().find(|l| l.key_id == key_id)
    }
}

fn validity(v: Option<&RawValidity>) -> Result<Validity, String> {
    let Some(v) = v else {
        return Err("missing (a key or CA without a validity window cannot be scoped)".into());
    };
    let start = v
        .start
        .as_deref()
        .ok_or("missing start")
        .and_then(|s| parse_rfc3339(s).ok_or("start is not an RFC 3339 UTC time"))?;
    let end = match v.end.as_deref() {
        Some(s) => Some(parse_rfc3339(s).ok_or("end is not an RFC 3339 UTC time")?),
        None => None,
    };
    Ok(Validity { start, end })
}

/// Parses an RFC 3339 time with an offset (`YYYY-MM-DDTHH:MM:SS[.fraction]Z`, the protobuf JSON
/// form of a Timestamp) to Unix seconds, with jiff (already in the tree through k8s-openapi).
/// Fractions are dropped: validity windows are compared at second precision.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    s.parse::<k8s_openapi::jiff::Timestamp>()
        .ok()
        .map(|t| t.as_second())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_a_clear_error_naming_the_file() {
        for bad in [
            &b""[..],
            b"not json",
            b"[]",
            b"{}",
            br#"{"mediaType":"application/json"}"#,
            br#"{"certificateAuthorities":[{"certChain":{"certificates":[]}}]}"#,
            br#"{"certificateAuthorities":[{"certChain":{"certificates":[{"rawBytes":"!!"}]},"validFor":{"start":"2021-01-01T00:00:00Z"}}]}"#,
            br#"{"tlogs":[{"publicKey":{"rawBytes":"AAAA"}}]}"#,
            br#"{"tlogs":[{"publicKey":{"rawBytes":"AAAA","validFor":{"start":"yesterday"}}}]}"#,
        ] {
            let e = TrustedRoot::from_json("root.json", bad).unwrap_err();
            assert!(e.to_string().contains("root.json"), "{e}");
        }
        let e = TrustedRoot::from_json(
            "root.json",
            br#"{"tlogs":[{"publicKey":{"rawBytes":"AAAA","validFor":{"start":"yesterday"}}}]}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("tlogs[0].publicKey.validFor"), "{e}");
    }

    #[test]
    fn rfc3339() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339("2021-03-07T03:20:29.000Z"),
            Some(1_615_087_229)
        );
        assert_eq!(parse_rfc3339("2021-03-07T03:20:29"), None);
        assert_eq!(parse_rfc3339("2021-13-07T03:20:29Z"), None);
    }
}

//! The one Sigstore bundle parser: bundles (v0.1–v0.3, protobuf JSON) and cosign's legacy `.sig`
//! layer annotations read into [`Material`], which both the keyed path ([`super::bundle`], the
//! DSSE envelope of an image's bundle) and the keyless verifier ([`super::keyless`]) use; and the
//! check that a Rekor entry body commits to the bundle's own signature, certificate and digest
//! (CVE-2022-36056: a valid entry for something else must not vouch for this signature).

use serde::Deserialize;
use serde_json::Value;

use super::crypto::b64;
use super::rekor::{InclusionProof, TlogEntry};

/// What was signed.
#[derive(Debug, Clone)]
pub(crate) enum Content {
    Message {
        /// The digest the bundle claims, if it states one.
        digest: Option<Vec<u8>>,
        signature: Vec<u8>,
    },
    Dsse {
        payload_type: String,
        payload: Vec<u8>,
        signature: Vec<u8>,
    },
}

/// A bundle reduced to what verification needs.
#[derive(Debug, Clone)]
pub(crate) struct Material {
    /// The Fulcio leaf certificate (DER) of a keyless bundle; `None` for a public-key bundle,
    /// whose key hint is not trusted and so not kept.
    pub leaf_der: Option<Vec<u8>>,
    pub content: Content,
    pub tlog_entries: Vec<TlogEntry>,
}

/// Why a bundle cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    #[error("Sigstore bundle does not parse: {0}")]
    Json(String),
    #[error("media type '{0}' is not a Sigstore bundle")]
    MediaType(String),
    #[error("Sigstore bundle holds neither a DSSE envelope nor a message signature")]
    NoContent,
    #[error(
        "Sigstore bundle holds a message signature (what `cosign sign-blob` makes), not a DSSE statement about an image"
    )]
    MessageSignature,
    #[error("{0}")]
    Field(String),
}

fn malformed(s: impl Into<String>) -> BundleError {
    BundleError::Field(s.into())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBundle {
    verification_material: Option<RawMaterial>,
    message_signature: Option<RawMessageSignature>,
    dsse_envelope: Option<RawEnvelope>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMaterial {
    certificate: Option<RawCert>,
    x509_certificate_chain: Option<RawChain>,
    #[serde(default)]
    tlog_entries: Vec<RawTlogEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCert {
    raw_bytes: String,
}

#[derive(Deserialize)]
struct RawChain {
    certificates: Vec<RawCert>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTlogEntry {
    log_index: Value,
    log_id: RawLogId,
    integrated_time: Value,
    inclusion_promise: Option<RawPromise>,
    inclusion_proof: Option<RawProof>,
    canonicalized_body: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLogId {
    key_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPromise {
    signed_entry_timestamp: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawProof {
    log_index: Value,
    root_hash: String,
    tree_size: Value,
    #[serde(default)]
    hashes: Vec<String>,
    checkpoint: Option<RawCheckpoint>,
}

#[derive(Deserialize)]
struct RawCheckpoint {
    envelope: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMessageSignature {
    message_digest: Option<RawDigest>,
    signature: String,
}

#[derive(Deserialize)]
struct RawDigest {
    algorithm: String,
    digest: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEnvelope {
    payload: String,
    payload_type: String,
    signatures: Vec<RawEnvelopeSig>,
}

#[derive(Deserialize)]
struct RawEnvelopeSig {
    sig: String,
}

/// Protobuf JSON writes int64 as a string; accept numbers too.
fn int(v: &Value, field: &str) -> Result<i64, BundleError> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
    .ok_or_else(|| malformed(format!("{field} is not an integer")))
}

fn b64_field(s: &str, field: &str) -> Result<Vec<u8>, BundleError> {
    b64(s).ok_or_else(|| malformed(format!("{field} is not base64")))
}

/// Every bundle media type starts so (v0.1/v0.2 spell it `…bundle+json;version=0.x`).
pub(crate) const BUNDLE_MEDIA_TYPE_PREFIX: &str = "application/vnd.dev.sigstore.bundle";

/// Parses a bundle. Pure; bad input is an error, never a panic.
pub(crate) fn parse_bundle(json: &[u8]) -> Result<Material, BundleError> {
    let doc: Value = serde_json::from_slice(json).map_err(|e| BundleError::Json(e.to_string()))?;
    let media_type = match doc.get("mediaType") {
        Some(Value::String(t)) => t.clone(),
        _ => return Err(BundleError::Json("mediaType is missing".into())),
    };
    if !media_type.starts_with(BUNDLE_MEDIA_TYPE_PREFIX) {
        return Err(BundleError::MediaType(media_type));
    }
    let raw = RawBundle::deserialize(doc).map_err(|e| BundleError::Json(e.to_string()))?;
    let content = match (&raw.message_signature, &raw.dsse_envelope) {
        (Some(ms), None) => Content::Message {
            digest: match &ms.message_digest {
                Some(d) if d.algorithm == "SHA2_256" => Some(b64_field(
                    &d.digest,
                    "messageSignature.messageDigest.digest",
                )?),
                Some(d) => {
                    return Err(malformed(format!(
                        "message digest algorithm {} is not supported",
                        d.algorithm
                    )));
                }
                None => None,
            },
            signature: b64_field(&ms.signature, "messageSignature.signature")?,
        },
        (None, Some(env)) => {
            let [sig] = env.signatures.as_slice() else {
                return Err(malformed(
                    "the DSSE envelope must carry exactly one signature",
                ));
            };
            Content::Dsse {
                payload_type: env.payload_type.clone(),
                payload: b64_field(&env.payload, "dsseEnvelope.payload")?,
                signature: b64_field(&sig.sig, "dsseEnvelope.signatures[0].sig")?,
            }
        }
        (None, None) => return Err(BundleError::NoContent),
        (Some(_), Some(_)) => {
            return Err(malformed(
                "a bundle holds exactly one of messageSignature and dsseEnvelope",
            ));
        }
    };
    let leaf_der = match &raw.verification_material {
        Some(RawMaterial {
            certificate: Some(c),
            ..
        }) => Some(&c.raw_bytes),
        Some(RawMaterial {
            x509_certificate_chain: Some(chain),
            ..
        }) => Some(
            &chain
                .certificates
                .first()
                .ok_or_else(|| malformed("x509CertificateChain is empty"))?
                .raw_bytes,
        ),
        _ => None,
    }
    .map(|leaf| b64_field(leaf, "verificationMaterial certificate rawBytes"))
    .transpose()?;
    let tlog_entries = raw
        .verification_material
        .iter()
        .flat_map(|vm| &vm.tlog_entries)
        .map(|e| {
            let inclusion_proof = match &e.inclusion_proof {
                None => None,
                Some(p) => Some(InclusionProof {
                    log_index: int(&p.log_index, "inclusionProof.logIndex")? as u64,
                    tree_size: int(&p.tree_size, "inclusionProof.treeSize")? as u64,
                    root_hash: b64_field(&p.root_hash, "inclusionProof.rootHash")?,
                    hashes: p
                        .hashes
                        .iter()
                        .map(|h| b64_field(h, "inclusionProof.hashes"))
                        .collect::<Result<_, _>>()?,
                    checkpoint: p.checkpoint.as_ref().map(|c| c.envelope.clone()),
                }),
            };
            Ok(TlogEntry {
                log_index: int(&e.log_index, "tlogEntries.logIndex")?,
                log_id: b64_field(&e.log_id.key_id, "tlogEntries.logId.keyId")?,
                integrated_time: int(&e.integrated_time, "tlogEntries.integratedTime")?,
                body: b64_field(&e.canonicalized_body, "tlogEntries.canonicalizedBody")?,
                signed_entry_timestamp: e
                    .inclusion_promise
                    .as_ref()
                    .map(|p| b64_field(&p.signed_entry_timestamp, "inclusionPromise"))
                    .transpose()?,
                inclusion_proof,
            })
        })
        .collect::<Result<Vec<_>, BundleError>>()?;
    Ok(Material {
        leaf_der,
        content,
        tlog_entries,
    })
}

/// cosign's `dev.sigstore.cosign/bundle` annotation.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CosignBundle {
    signed_entry_timestamp: String,
    payload: CosignPayload,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CosignPayload {
    body: String,
    integrated_time: i64,
    log_index: i64,
    #[serde(rename = "logID")]
    log_id: String,
}

/// A cosign `.sig` layer: a message signature over the layer blob (the simple-signing payload).
pub(crate) fn parse_cosign_layer(
    signature_b64: &str,
    certificate_pem: &str,
    bundle_annotation: &str,
) -> Result<Material, BundleError> {
    Ok(Material {
        leaf_der: Some(pem_der(certificate_pem)?),
        content: Content::Message {
            digest: None,
            signature: b64_field(signature_b64, "signature annotation")?,
        },
        tlog_entries: vec![cosign_tlog_entry(bundle_annotation)?],
    })
}

/// A cosign keyless `.att` layer: the DSSE envelope (the layer blob) signed with the
/// certificate's key, and the Rekor entry of the `dev.sigstore.cosign/bundle` annotation.
pub(crate) fn parse_cosign_attestation_layer(
    envelope_json: &[u8],
    certificate_pem: &str,
    bundle_annotation: &str,
) -> Result<Material, BundleError> {
    let env = super::dsse::parse_envelope(envelope_json)
        .map_err(|e| malformed(format!("attestation layer: {e}")))?;
    let [sig] = env.signatures.as_slice() else {
        return Err(malformed(
            "a keyless DSSE envelope must carry exactly one signature",
        ));
    };
    Ok(Material {
        leaf_der: Some(pem_der(certificate_pem)?),
        content: Content::Dsse {
            payload_type: env.payload_type.clone(),
            payload: env.payload.clone(),
            signature: sig.sig.clone(),
        },
        tlog_entries: vec![cosign_tlog_entry(bundle_annotation)?],
    })
}

/// The Rekor entry of cosign's `dev.sigstore.cosign/bundle` annotation (a SET, no proof).
fn cosign_tlog_entry(bundle_annotation: &str) -> Result<TlogEntry, BundleError> {
    let b: CosignBundle = serde_json::from_str(bundle_annotation)
        .map_err(|e| malformed(format!("cosign bundle annotation: {e}")))?;
    Ok(TlogEntry {
        log_index: b.payload.log_index,
        log_id: hex::decode(&b.payload.log_id)
            .map_err(|_| malformed("cosign bundle Payload.logID is not hex"))?,
        integrated_time: b.payload.integrated_time,
        body: b64_field(&b.payload.body, "cosign bundle Payload.body")?,
        signed_entry_timestamp: Some(b64_field(
            &b.signed_entry_timestamp,
            "cosign bundle SignedEntryTimestamp",
        )?),
        inclusion_proof: None,
    })
}

/// The DER of the first PEM block in `pem`.
fn pem_der(pem: &str) -> Result<Vec<u8>, BundleError> {
    super::crypto::pem_der(pem.as_bytes()).ok_or_else(|| malformed("certificate is not PEM"))
}

/// Checks that the Rekor entry body names this signature, this certificate and this content
/// (`signed_hash`: SHA-256 of the artifact, or of the DSSE PAE for a hashedrekord over DSSE).
pub(crate) fn check_entry_body(
    entry: &TlogEntry,
    m: &Material,
    signature: &[u8],
    signed_hash: &[u8],
) -> Result<(), String> {
    let mismatch = |what: &str| format!("the log entry does not match the bundle's {what}");
    let body: Value = serde_json::from_slice(&entry.body)
        .map_err(|_| "the log entry body is not JSON".to_owned())?;
    let kind = body["kind"].as_str().unwrap_or_default();
    let version = body["apiVersion"].as_str().unwrap_or_default();
    let spec = &body["spec"];
    let cert_ok = |field: &Value| {
        field
            .as_str()
            .and_then(b64)
            .and_then(|pem| String::from_utf8(pem).ok())
            .and_then(|pem| pem_der(&pem).ok())
            .is_some_and(|der| m.leaf_der.as_deref() == Some(der.as_slice()))
    };
    let sig_ok = |field: &Value| field.as_str().and_then(b64).is_some_and(|s| s == signature);
    match (kind, version) {
        ("hashedrekord", "0.0.1") => {
            if !sig_ok(&spec["signature"]["content"]) {
                return Err(mismatch("signature"));
            }
            if !cert_ok(&spec["signature"]["publicKey"]["content"]) {
                return Err(mismatch("certificate"));
            }
            let hash = &spec["data"]["hash"];
            if hash["algorithm"].as_str() != Some("sha256")
                || hash["value"].as_str() != Some(hex::encode(signed_hash).as_str())
            {
                return Err(mismatch("artifact digest"));
            }
            Ok(())
        }
        ("dsse", "0.0.1") => {
            let Content::Dsse { payload, .. } = &m.content else {
                return Err(mismatch(
                    "content type (dsse entry for a message signature)",
                ));
            };
            let want = hex::encode(sha2::Sha256::digest(payload));
            if spec["payloadHash"]["value"].as_str() != Some(want.as_str()) {
                return Err(mismatch("DSSE payload"));
            }
            let signed = spec["signatures"].as_array().is_some_and(|sigs| {
                sigs.iter()
                    .any(|s| sig_ok(&s["signature"]) && cert_ok(&s["verifier"]))
            });
            if !signed {
                return Err(mismatch("signature and certificate"));
            }
            Ok(())
        }
        // What cosign before the `dsse` type (and `--rekor-entry-type intoto`) logs for an
        // attestation. Rekor keeps the envelope without its payload; the signature is the
        // envelope's base64 text base64-encoded again, the key the certificate PEM.
        ("intoto", "0.0.2") => {
            let Content::Dsse { payload, .. } = &m.content else {
                return Err(mismatch(
                    "content type (intoto entry for a message signature)",
                ));
            };
            let content = &spec["content"];
            let want = hex::encode(sha2::Sha256::digest(payload));
            if content["payloadHash"]["value"].as_str() != Some(want.as_str()) {
                return Err(mismatch("DSSE payload"));
            }
            let double_encoded_sig_ok = |field: &Value| {
                field
                    .as_str()
                    .and_then(b64)
                    .and_then(|text| String::from_utf8(text).ok())
                    .and_then(|text| b64(&text))
                    .is_some_and(|s| s == signature)
            };
            let signed = content["envelope"]["signatures"]
                .as_array()
                .is_some_and(|sigs| {
                    sigs.iter()
                        .any(|s| double_encoded_sig_ok(&s["sig"]) && cert_ok(&s["publicKey"]))
                });
            if !signed {
                return Err(mismatch("signature and certificate"));
            }
            Ok(())
        }
        _ => Err(format!(
            "log entry kind {kind} {version} is not supported (hashedrekord 0.0.1, dsse 0.0.1, intoto 0.0.2)"
        )),
    }
}

use sha2::Digest as _;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_bundles_are_malformed_not_panics() {
        for bad in [
            &b""[..],
            b"{}",
            br#"{"mediaType":"x","verificationMaterial":{}}"#,
            br#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{}}"#,
            br#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"certificate":{"rawBytes":"AAAA"}}}"#,
        ] {
            assert!(parse_bundle(bad).is_err());
        }
        assert!(parse_cosign_layer("AAAA", "not pem", "{}").is_err());
    }
}

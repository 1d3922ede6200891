//! DSSE envelopes (the signed wrapper of every cosign attestation) and the in-toto Statements
//! inside them. Pure parsing: signature checks happen in `verify`, against the exact bytes these
//! functions return.

use serde::Deserialize;

use super::crypto::b64;
use super::reference::Digest;

/// The payload type of in-toto statements in DSSE.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// Statement `_type` values accepted.
pub const STATEMENT_V01: &str = "https://in-toto.io/Statement/v0.1";
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";

/// A parsed DSSE envelope: the decoded payload and its signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub payload_type: String,
    /// The decoded payload bytes, exactly as signed.
    pub payload: Vec<u8>,
    pub signatures: Vec<EnvelopeSignature>,
}

/// One signature of an envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeSignature {
    pub keyid: String,
    /// The decoded signature bytes.
    pub sig: Vec<u8>,
}

/// Why a DSSE envelope or in-toto statement is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("not a DSSE envelope: {0}")]
    Json(String),
    #[error("DSSE {field} is not valid base64")]
    Base64 { field: &'static str },
    #[error("DSSE envelope has no signatures")]
    Unsigned,
    #[error("DSSE payload type is '{0}', expected '{IN_TOTO_PAYLOAD_TYPE}'")]
    PayloadType(String),
    #[error("in-toto statement does not parse: {0}")]
    Statement(String),
    #[error("in-toto statement _type '{0}' is neither {STATEMENT_V01} nor {STATEMENT_V1}")]
    StatementType(String),
    #[error("in-toto statement has no subject with a sha256 digest")]
    NoSubject,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEnvelope {
    payload_type: String,
    payload: String,
    #[serde(default)]
    signatures: Vec<RawSignature>,
}

#[derive(Deserialize)]
struct RawSignature {
    #[serde(default)]
    keyid: String,
    sig: String,
}

/// Parses a DSSE envelope (JSON), decoding payload and signatures.
pub fn parse_envelope(bytes: &[u8]) -> Result<Envelope, EnvelopeError> {
    let raw: RawEnvelope =
        serde_json::from_slice(bytes).map_err(|e| EnvelopeError::Json(e.to_string()))?;
    let payload = b64(&raw.payload).ok_or(EnvelopeError::Base64 { field: "payload" })?;
    let signatures = raw
        .signatures
        .into_iter()
        .map(|s| {
            Ok(EnvelopeSignature {
                keyid: s.keyid,
                sig: b64(&s.sig).ok_or(EnvelopeError::Base64 { field: "signature" })?,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if signatures.is_empty() {
        return Err(EnvelopeError::Unsigned);
    }
    Ok(Envelope {
        payload_type: raw.payload_type,
        payload,
        signatures,
    })
}

/// The DSSE pre-authentication encoding: what is actually signed.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + payload_type.len() + 32);
    out.extend_from_slice(
        format!(
            "DSSEv1 {} {} {} ",
            payload_type.len(),
            payload_type,
            payload.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(payload);
    out
}

/// An in-toto Statement (v0.1 or v1).
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub statement_type: String,
    /// The sha256 digests of the subjects.
    pub subject_digests: Vec<Digest>,
    pub predicate_type: String,
    pub predicate: serde_json::Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawStatement {
    #[serde(rename = "_type")]
    statement_type: String,
    #[serde(default)]
    subject: Vec<RawSubject>,
    predicate_type: String,
    #[serde(default)]
    predicate: serde_json::Value,
}

#[derive(Deserialize)]
struct RawSubject {
    #[serde(default)]
    digest: std::collections::BTreeMap<String, String>,
}

/// Parses an in-toto statement from an envelope payload.
pub fn parse_statement(payload: &[u8]) -> Result<Statement, EnvelopeError> {
    let raw: RawStatement =
        serde_json::from_slice(payload).map_err(|e| EnvelopeError::Statement(e.to_string()))?;
    if raw.statement_type != STATEMENT_V01 && raw.statement_type != STATEMENT_V1 {
        return Err(EnvelopeError::StatementType(raw.statement_type));
    }
    let subject_digests: Vec<Digest> = raw
        .subject
        .iter()
        .filter_map(|s| s.digest.get("sha256"))
        .filter_map(|hex| Digest::parse(&format!("sha256:{hex}")).ok())
        .collect();
    if subject_digests.is_empty() {
        return Err(EnvelopeError::NoSubject);
    }
    Ok(Statement {
        statement_type: raw.statement_type,
        subject_digests,
        predicate_type: raw.predicate_type,
        predicate: raw.predicate,
    })
}

/// Parses an envelope whose payload must be an in-toto statement.
pub fn parse_attestation(bytes: &[u8]) -> Result<(Envelope, Statement), EnvelopeError> {
    let env = parse_envelope(bytes)?;
    if env.payload_type != IN_TOTO_PAYLOAD_TYPE {
        return Err(EnvelopeError::PayloadType(env.payload_type));
    }
    let st = parse_statement(&env.payload)?;
    Ok((env, st))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;

    fn envelope(payload: &str) -> String {
        serde_json::json!({
            "payloadType": IN_TOTO_PAYLOAD_TYPE,
            "payload": STANDARD.encode(payload),
            "signatures": [{"keyid": "", "sig": STANDARD.encode(b"sig")}],
        })
        .to_string()
    }

    #[test]
    fn pae_matches_the_dsse_spec_example() {
        // From the DSSE protocol document.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
    }

    #[test]
    fn parses_v1_and_v01_statements() {
        let hex = "ab".repeat(32);
        for t in [STATEMENT_V01, STATEMENT_V1] {
            let st = serde_json::json!({"_type": t, "subject": [{"name": "x", "digest": {"sha256": hex}}],
                "predicateType": "https://cyclonedx.org/bom", "predicate": {"a": 1}});
            let (env, st) = parse_attestation(envelope(&st.to_string()).as_bytes()).unwrap();
            assert_eq!(env.signatures[0].sig, b"sig");
            assert_eq!(st.subject_digests[0].hex(), hex);
            assert_eq!(st.predicate_type, "https://cyclonedx.org/bom");
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bad in [
            &b""[..],
            b"{",
            b"null",
            b"[]",
            b"{\"payloadType\":1}",
            b"{\"payloadType\":\"x\",\"payload\":\"!!\",\"signatures\":[]}",
            &[0xff, 0xfe, 0x00],
        ] {
            assert!(parse_envelope(bad).is_err());
            assert!(parse_statement(bad).is_err());
        }
        let unsigned = serde_json::json!({"payloadType": "x", "payload": "", "signatures": []});
        assert_eq!(
            parse_envelope(unsigned.to_string().as_bytes()),
            Err(EnvelopeError::Unsigned)
        );
        let wrong_type = serde_json::json!({"_type": "https://example.com/x", "subject": [], "predicateType": "p"});
        assert!(matches!(
            parse_attestation(envelope(&wrong_type.to_string()).as_bytes()),
            Err(EnvelopeError::StatementType(_))
        ));
        let no_subject = serde_json::json!({"_type": STATEMENT_V1, "subject": [{"digest": {"sha1": "00"}}], "predicateType": "p"});
        assert_eq!(
            parse_attestation(envelope(&no_subject.to_string()).as_bytes()),
            Err(EnvelopeError::NoSubject)
        );
    }
}

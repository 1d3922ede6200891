//! What the registry holds for one digest, as fetched and before anything is trusted: cosign's
//! signature and attestation layers and the Sigstore bundles that refer to it, and why one of
//! them did not count. The bottom of the evidence modules: [`super::fetch`] and
//! [`super::bundle`] produce these, [`super::verify`] judges them.

use serde::Serialize;

/// Annotation cosign puts the base64 signature of a simple-signing layer in.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// Annotation cosign puts a keyless signature's Fulcio certificate (PEM) in.
pub const CERTIFICATE_ANNOTATION: &str = "dev.sigstore.cosign/certificate";
/// Annotation cosign puts a keyless signature's Rekor entry (SET, body, time) in.
pub const REKOR_BUNDLE_ANNOTATION: &str = "dev.sigstore.cosign/bundle";
/// Annotation cosign puts an attestation's (unsigned) predicate type in.
pub const PREDICATE_TYPE_ANNOTATION: &str = "predicateType";

/// A cosign simple-signing signature as stored in the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureArtifact {
    /// Where it was found, e.g. `tag sha256-….sig, layer 0`.
    pub origin: String,
    /// The signed payload (the layer blob).
    pub payload: Vec<u8>,
    /// The base64 signature from the layer annotation.
    pub signature: String,
    /// Keyless signatures: the Fulcio certificate (PEM) annotation.
    pub certificate: Option<String>,
    /// Keyless signatures: cosign's Rekor bundle annotation (JSON).
    pub rekor_bundle: Option<String>,
}

/// A cosign attestation (a DSSE envelope) as stored in the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestationArtifact {
    pub origin: String,
    /// The predicate type the (unsigned) layer annotation claims.
    pub annotated_predicate_type: Option<String>,
    /// The DSSE envelope JSON.
    pub envelope: Vec<u8>,
    /// Keyless attestations: the certificate and transparency log material that came with the
    /// envelope. With it the attestation goes to the keyless authorities, never to the keys.
    pub keyless: Option<KeylessMaterial>,
}

/// What a keyless attestation carries besides its DSSE envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeylessMaterial {
    /// A cosign `.att` layer's annotations: the Fulcio certificate (PEM) and, when cosign
    /// uploaded to Rekor, the Rekor bundle (SET, body, time).
    CosignLayer {
        certificate: String,
        rekor_bundle: Option<String>,
    },
    /// The whole Sigstore bundle (JSON) the envelope came from (a referrer): certificate and
    /// transparency log entries with it. The envelope verified is the bundle's own.
    Bundle(Vec<u8>),
}

/// A Sigstore bundle holding a message signature (not a DSSE statement) found as a referrer of
/// the image: a signature over the image manifest itself, as `cosign sign-blob
/// --new-bundle-format` makes over the manifest bytes. Its message digest is the image digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageSignatureArtifact {
    pub origin: String,
    /// The bundle JSON.
    pub bundle: Vec<u8>,
}

/// Everything fetched for one digest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Artifacts {
    pub signatures: Vec<SignatureArtifact>,
    pub attestations: Vec<AttestationArtifact>,
    /// Message-signature bundles among the referrers.
    pub message_signatures: Vec<MessageSignatureArtifact>,
    /// The image manifest (the bytes whose SHA-256 is the digest), fetched when a message
    /// signature needs it.
    pub subject_manifest: Option<Vec<u8>>,
}

/// Why one signature did not count.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "reason", rename_all = "camelCase")]
pub enum SignatureFailure {
    #[error("{origin}: signature does not verify with any trusted key ({keys})")]
    UntrustedSigner { origin: String, keys: String },
    #[error("{origin}: signed payload names {claimed}, not this image: copied from another image")]
    WrongImage { origin: String, claimed: String },
    #[error("{origin}: malformed: {why}")]
    Malformed { origin: String, why: String },
    #[error("{origin}: keyless signature rejected: {why}")]
    KeylessRejected { origin: String, why: String },
}

/// Why one attestation did not count.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "reason", rename_all = "camelCase")]
pub enum AttestationFailure {
    #[error(
        "{origin}: DSSE signature does not verify with any trusted key ({keys}): the payload was altered after signing, or an untrusted key signed it"
    )]
    BadSignature { origin: String, keys: String },
    #[error(
        "{origin}: the signed statement is about {subjects}, not this image: the attestation was made for another digest and copied here"
    )]
    SubjectMismatch { origin: String, subjects: String },
    #[error(
        "{origin}: the layer claims predicate type {annotated} but the signed statement is of type {signed}"
    )]
    PredicateTypeMismatch {
        origin: String,
        annotated: String,
        signed: String,
    },
    #[error("{origin}: predicate of type {predicate_type} is invalid: {why}")]
    PredicateInvalid {
        origin: String,
        predicate_type: String,
        why: String,
    },
    #[error("{origin}: malformed: {why}")]
    Malformed { origin: String, why: String },
    #[error("{origin}: keyless attestation rejected: {why}")]
    KeylessRejected { origin: String, why: String },
}

/// A bundle's failure, as the signature failure it is when the bundle was meant as a signature.
pub fn signature_failure(f: AttestationFailure) -> SignatureFailure {
    match f {
        AttestationFailure::BadSignature { origin, keys } => {
            SignatureFailure::UntrustedSigner { origin, keys }
        }
        AttestationFailure::SubjectMismatch { origin, subjects } => SignatureFailure::WrongImage {
            origin,
            claimed: subjects,
        },
        AttestationFailure::Malformed { origin, why } => {
            SignatureFailure::Malformed { origin, why }
        }
        AttestationFailure::KeylessRejected { origin, why } => {
            SignatureFailure::KeylessRejected { origin, why }
        }
        AttestationFailure::PredicateTypeMismatch { ref origin, .. }
        | AttestationFailure::PredicateInvalid { ref origin, .. } => SignatureFailure::Malformed {
            origin: origin.clone(),
            why: f.to_string(),
        },
    }
}

//! Sigstore bundles attached as OCI 1.1 referrers: what `cosign sign|attest --new-bundle-format`
//! writes. Each is an image manifest whose `subject` is the signed image and whose one layer is a
//! bundle (`application/vnd.dev.sigstore.bundle.v0.3+json`) holding a DSSE envelope: an in-toto
//! statement about the image's digest, of type [`COSIGN_SIGN_PREDICATE`] for a signature or the
//! attestation's own predicate type.
//!
//! The referrers are listed with the referrers API; registries without it (docker-registry 2.8,
//! Docker Hub) get the OCI referrers tag schema instead: an index tagged `sha256-<hex>` that the
//! pushing client keeps up to date. The bundles' DSSE envelopes are handed to `verify` as
//! attestations, so the signature, subject and predicate-type checks are the ones legacy `.att`
//! layers get; `verify` counts a verified [`COSIGN_SIGN_PREDICATE`] statement as a signature.
//! Nothing in a bundle is trusted: its `verificationMaterial` (key hint, certificate) only says
//! which authority to try, and keyed verification tries the configured keys regardless.

use futures::future::try_join_all;
use serde::Deserialize;

use super::artifacts::AttestationArtifact;
use super::reference::{Digest, ImageRef};
use super::registry::{Descriptor, ManifestBody, RegistryClient, RegistryError};

/// The media type of a v0.3 bundle (layer, manifest artifact type).
pub const BUNDLE_V03_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// Every bundle media type starts so (v0.1/v0.2 spell it `…bundle+json;version=0.x`).
const BUNDLE_MEDIA_TYPE_PREFIX: &str = "application/vnd.dev.sigstore.bundle";
/// The predicate type of the in-toto statement cosign signs for an image signature in a bundle.
pub const COSIGN_SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";
/// The (unsigned) manifest annotation naming the bundle's predicate type.
pub const BUNDLE_PREDICATE_ANNOTATION: &str = "dev.sigstore.bundle.predicateType";
/// ggcr writes the config media type into the fallback index's `artifactType`, so descriptors of
/// that type may be bundles too.
const OCI_EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
/// Referrers followed per image: one signature and a handful of attestations per release, times
/// re-signing and re-attesting over the image's life; more than this is not a release's evidence.
const MAX_REFERRERS: usize = 64;

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
}

/// A parsed bundle: its DSSE envelope and what the verification material says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    pub media_type: String,
    /// The DSSE envelope JSON, as `dsse::parse_attestation` reads it.
    pub envelope: Vec<u8>,
    /// Whether the material is a certificate (keyless) rather than a public key hint.
    pub has_certificate: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBundle {
    media_type: String,
    #[serde(default)]
    verification_material: Option<RawMaterial>,
    #[serde(default)]
    dsse_envelope: Option<serde_json::Value>,
    #[serde(default)]
    message_signature: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMaterial {
    #[serde(default)]
    certificate: Option<serde_json::Value>,
    #[serde(default)]
    x509_certificate_chain: Option<serde_json::Value>,
}

/// Parses a bundle (protobuf JSON). Pure; bad input is an error, never a panic.
pub fn parse(bytes: &[u8]) -> Result<Bundle, BundleError> {
    let raw: RawBundle =
        serde_json::from_slice(bytes).map_err(|e| BundleError::Json(e.to_string()))?;
    if !raw.media_type.starts_with(BUNDLE_MEDIA_TYPE_PREFIX) {
        return Err(BundleError::MediaType(raw.media_type));
    }
    let has_certificate = raw
        .verification_material
        .as_ref()
        .is_some_and(|m| m.certificate.is_some() || m.x509_certificate_chain.is_some());
    match (raw.dsse_envelope, raw.message_signature) {
        (Some(env), _) => Ok(Bundle {
            media_type: raw.media_type,
            envelope: serde_json::to_vec(&env).map_err(|e| BundleError::Json(e.to_string()))?,
            has_certificate,
        }),
        (None, Some(_)) => Err(BundleError::MessageSignature),
        (None, None) => Err(BundleError::NoContent),
    }
}

/// The tag of the OCI referrers tag schema for `digest`.
pub fn referrers_tag(digest: &Digest) -> String {
    format!("sha256-{}", digest.hex())
}

/// A bundle layer of a referrer, listed but not yet downloaded (so `fetch` can bound what it
/// downloads).
#[derive(Debug, Clone)]
pub struct BundleLayer {
    pub origin: String,
    /// The predicate type the (unsigned) referrer manifest claims.
    pub annotated_predicate_type: Option<String>,
    pub layer: Descriptor,
}

impl BundleLayer {
    /// The downloaded bundle as an attestation artifact for `verify`.
    pub fn into_artifact(self, bytes: &[u8]) -> AttestationArtifact {
        match parse(bytes) {
            Ok(b) => AttestationArtifact {
                origin: self.origin,
                annotated_predicate_type: self.annotated_predicate_type,
                envelope: b.envelope,
            },
            // Left for `verify` to report as malformed, under the type the manifest claims.
            Err(e) => AttestationArtifact {
                origin: format!("{}: {e}", self.origin),
                annotated_predicate_type: self.annotated_predicate_type,
                envelope: Vec::new(),
            },
        }
    }
}

/// Lists the bundle layers of the referrers of `digest`.
pub async fn list(
    client: &RegistryClient,
    image: &ImageRef,
    digest: &Digest,
) -> Result<Vec<BundleLayer>, RegistryError> {
    let (listing, referrers) = match client.referrers(image, digest).await? {
        Some(list) => ("referrers API".to_owned(), list),
        None => {
            let tag = referrers_tag(digest);
            (
                format!("referrers tag {tag}"),
                fallback_index(client, image, &tag).await?,
            )
        }
    };
    let candidates = referrers
        .into_iter()
        .filter(maybe_bundle)
        .take(MAX_REFERRERS)
        .collect::<Vec<_>>();
    let listing = &listing;
    let per_referrer = try_join_all(
        candidates
            .iter()
            .map(|d| bundles_of(client, image, listing, d)),
    )
    .await?;
    Ok(per_referrer.into_iter().flatten().collect())
}

/// Descriptors that may be bundle manifests (those of other artifact types are not fetched).
fn maybe_bundle(d: &Descriptor) -> bool {
    match d.artifact_type.as_deref() {
        None | Some("") | Some(OCI_EMPTY_MEDIA_TYPE) => true,
        Some(t) => t.starts_with(BUNDLE_MEDIA_TYPE_PREFIX),
    }
}

/// The descriptors of the referrers tag schema's index, or none without the tag.
async fn fallback_index(
    client: &RegistryClient,
    image: &ImageRef,
    tag: &str,
) -> Result<Vec<Descriptor>, RegistryError> {
    let Some(m) = client.manifest(image, tag).await? else {
        return Ok(vec![]);
    };
    let body: ManifestBody =
        serde_json::from_slice(&m.bytes).map_err(|e| RegistryError::Parse {
            url: format!("{image} {tag}"),
            what: "referrers index",
            why: e.to_string(),
        })?;
    Ok(body.manifests)
}

/// The bundle layers of one referrer manifest.
async fn bundles_of(
    client: &RegistryClient,
    image: &ImageRef,
    listing: &str,
    referrer: &Descriptor,
) -> Result<Vec<BundleLayer>, RegistryError> {
    // A referrer listed but since deleted is no evidence, not an error.
    let Some(m) = client.manifest(image, &referrer.digest).await? else {
        return Ok(vec![]);
    };
    let body: ManifestBody =
        serde_json::from_slice(&m.bytes).map_err(|e| RegistryError::Parse {
            url: format!("{image}@{}", referrer.digest),
            what: "referrer manifest",
            why: e.to_string(),
        })?;
    let annotated = body.annotations.get(BUNDLE_PREDICATE_ANNOTATION).cloned();
    Ok(body
        .layers
        .into_iter()
        .enumerate()
        .filter(|(_, l)| l.media_type.starts_with(BUNDLE_MEDIA_TYPE_PREFIX))
        .map(|(i, layer)| BundleLayer {
            origin: format!("bundle {}[{i}] ({listing})", referrer.digest),
            annotated_predicate_type: annotated.clone(),
            layer,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cosign_v2_bundles() {
        let b = parse(
            br#"{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {"publicKey": {"hint": "abc"}},
            "dsseEnvelope": {"payload": "e30=", "payloadType": "application/vnd.in-toto+json",
                "signatures": [{"sig": "AAAA"}]}}"#,
        )
        .unwrap();
        assert!(!b.has_certificate);
        let env: serde_json::Value = serde_json::from_slice(&b.envelope).unwrap();
        assert_eq!(env["payload"], "e30=");
        let keyless = parse(
            br#"{"mediaType": "application/vnd.dev.sigstore.bundle+json;version=0.2",
            "verificationMaterial": {"x509CertificateChain": {"certificates": []}},
            "dsseEnvelope": {}}"#,
        )
        .unwrap();
        assert!(keyless.has_certificate);
    }

    #[test]
    fn bad_bundles_are_errors() {
        assert!(matches!(parse(b"{"), Err(BundleError::Json(_))));
        assert!(matches!(parse(b"[]"), Err(BundleError::Json(_))));
        assert!(matches!(
            parse(br#"{"mediaType": "application/json", "dsseEnvelope": {}}"#),
            Err(BundleError::MediaType(_))
        ));
        assert_eq!(
            parse(br#"{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json"}"#),
            Err(BundleError::NoContent)
        );
        assert_eq!(
            parse(
                br#"{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
                "messageSignature": {"signature": "AAAA"}}"#
            ),
            Err(BundleError::MessageSignature)
        );
    }

    #[test]
    fn only_possible_bundle_referrers_are_followed() {
        let d = |t: Option<&str>| Descriptor {
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            digest: "sha256:00".into(),
            size: 1,
            annotations: Default::default(),
            artifact_type: t.map(str::to_owned),
        };
        assert!(maybe_bundle(&d(None)));
        assert!(maybe_bundle(&d(Some(BUNDLE_V03_MEDIA_TYPE))));
        assert!(maybe_bundle(&d(Some(OCI_EMPTY_MEDIA_TYPE))));
        assert!(!maybe_bundle(&d(Some("application/spdx+json"))));
    }
}

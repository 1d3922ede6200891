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
//! Nothing in a bundle is trusted: its `verificationMaterial` only says which authorities apply. A
//! bundle with a certificate goes to the keyless verifier (identity, issuer, chain, Rekor), one
//! with a key hint to the configured keys (the hint is ignored). A bundle holding a message
//! signature rather than a DSSE envelope is a signature over the image manifest.

use futures::future::try_join_all;

use super::artifacts::{AttestationArtifact, KeylessMaterial, MessageSignatureArtifact};
use super::keyless_bundle::{BUNDLE_MEDIA_TYPE_PREFIX, Content};
use super::reference::{Digest, ImageRef};
use super::registry::{Descriptor, ManifestBody, RegistryClient, RegistryError};

/// The media type of a v0.3 bundle (layer, manifest artifact type).
pub const BUNDLE_V03_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
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

pub use super::keyless_bundle::BundleError;

/// A parsed bundle as the keyed path reads it: its DSSE envelope, and whether its verification
/// material is a certificate (keyless) rather than a public key hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// The DSSE envelope JSON, as `dsse::parse_attestation` reads it.
    pub envelope: Vec<u8>,
    pub has_certificate: bool,
}

/// Parses a bundle with the one bundle parser (`keyless_bundle.rs`) and re-encodes its DSSE
/// envelope for `dsse::parse_attestation`. Pure; bad input is an error, never a panic.
pub fn parse(bytes: &[u8]) -> Result<Bundle, BundleError> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let m = super::keyless_bundle::parse_bundle(bytes)?;
    let Content::Dsse {
        payload_type,
        payload,
        signature,
    } = m.content
    else {
        return Err(BundleError::MessageSignature);
    };
    let envelope = serde_json::json!({"payloadType": payload_type, "payload": b64.encode(payload),
        "signatures": [{"keyid": "", "sig": b64.encode(signature)}]});
    Ok(Bundle {
        envelope: envelope.to_string().into_bytes(),
        has_certificate: m.leaf_der.is_some(),
    })
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

/// What a downloaded bundle is evidence of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BundleArtifact {
    /// A DSSE statement (an attestation, or a signature of type [`COSIGN_SIGN_PREDICATE`]).
    Attestation(AttestationArtifact),
    /// A message signature over the image manifest.
    MessageSignature(MessageSignatureArtifact),
}

impl BundleLayer {
    /// The downloaded bundle as an artifact for `verify`. A bundle with a certificate keeps its
    /// bytes, so the keyless verifier reads its certificate and log entries.
    pub fn into_artifact(self, bytes: &[u8]) -> BundleArtifact {
        match parse(bytes) {
            Ok(b) => BundleArtifact::Attestation(AttestationArtifact {
                origin: self.origin,
                annotated_predicate_type: self.annotated_predicate_type,
                envelope: b.envelope,
                keyless: b
                    .has_certificate
                    .then(|| KeylessMaterial::Bundle(bytes.to_vec())),
            }),
            Err(BundleError::MessageSignature) => {
                BundleArtifact::MessageSignature(MessageSignatureArtifact {
                    origin: self.origin,
                    bundle: bytes.to_vec(),
                })
            }
            // Left for `verify` to report as malformed, under the type the manifest claims.
            Err(e) => BundleArtifact::Attestation(AttestationArtifact {
                origin: format!("{}: {e}", self.origin),
                annotated_predicate_type: self.annotated_predicate_type,
                envelope: Vec::new(),
                keyless: None,
            }),
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
        assert_eq!(env["signatures"][0]["sig"], "AAAA");
        // URL-safe base64 is read as DSSE allows and written back standard.
        let url_safe = parse(
            br#"{"mediaType": "application/vnd.dev.sigstore.bundle+json;version=0.2",
            "verificationMaterial": {"x509CertificateChain": {"certificates": [{"rawBytes": "AAAA"}]}},
            "dsseEnvelope": {"payload": "-_8", "payloadType": "application/vnd.in-toto+json",
                "signatures": [{"sig": "AAAA"}]}}"#,
        )
        .unwrap();
        assert!(url_safe.has_certificate);
        let env: serde_json::Value = serde_json::from_slice(&url_safe.envelope).unwrap();
        assert_eq!(env["payload"], "+/8=");
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
        for bad in [
            &br#"{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
                "dsseEnvelope": {"payload": "e30=", "payloadType": "t", "signatures": []}}"#[..],
            br#"{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
                "dsseEnvelope": {"payload": "***", "payloadType": "t", "signatures": [{"sig": "AAAA"}]}}"#,
            br#"{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
                "verificationMaterial": {"x509CertificateChain": {"certificates": []}},
                "dsseEnvelope": {"payload": "e30=", "payloadType": "t", "signatures": [{"sig": "AAAA"}]}}"#,
        ] {
            assert!(matches!(parse(bad), Err(BundleError::Field(_))), "{}", String::from_utf8_lossy(bad));
        }
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

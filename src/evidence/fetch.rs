//! Fetches what the registry holds about one image digest: cosign's signatures
//! (`sha256-<hex>.sig`) and attestations (`sha256-<hex>.att`), and the Sigstore bundles that
//! refer to it (see [`super::bundle`]), whichever the registry holds.
//!
//! Bounded: anyone who can push to the repository can add layers to those manifests, so first
//! every manifest is listed, then the layers are counted and their declared sizes added up
//! against [`FetchLimits`], and only then are blobs downloaded, each streamed with its declared
//! size as its limit and checked against its digest by the client. Before this, an `.att` with 40
//! layers pointing at one 12 MiB blob took the verifier to 889 MiB and 90 s.

use futures::future::try_join_all;

use super::artifacts::{
    Artifacts, AttestationArtifact, CERTIFICATE_ANNOTATION, KeylessMaterial,
    PREDICATE_TYPE_ANNOTATION, REKOR_BUNDLE_ANNOTATION, SIGNATURE_ANNOTATION, SignatureArtifact,
};
use super::bundle::BundleArtifact;
use super::reference::{Digest, ImageRef};
use super::registry::{Descriptor, ManifestBody, RegistryClient, RegistryError};

/// The media type of cosign's simple-signing payload layers.
pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The media type of cosign's attestation layers.
pub const DSSE_MEDIA_TYPE: &str = "application/vnd.dsse.envelope.v1+json";

/// Layers read per image unless configured: a release carries a signature and three
/// attestations, re-signed and re-attested a few times over its life; 32 is eight such rounds.
pub const DEFAULT_MAX_LAYERS: usize = 32;
/// Bytes of layers read per image unless configured: an SBOM of a large image reaches tens of
/// MiB (the most one blob could be before these limits), with room for the rest beside it.
pub const DEFAULT_MAX_BYTES: u64 = 64 << 20;

/// How much evidence is read per image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchLimits {
    /// Signature, attestation and bundle layers, together.
    pub max_layers: usize,
    /// Their declared sizes, added up.
    pub max_bytes: u64,
}

impl Default for FetchLimits {
    fn default() -> Self {
        Self {
            max_layers: DEFAULT_MAX_LAYERS,
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

/// An image carries more evidence than the limits allow: an error, never a partial read (which
/// could leave out the report with the criticals).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    #[error(
        "{found} signature, attestation and bundle layers ({detail}), more than the limit of {limit}; remove stale ones (`cosign attest --replace`, or `cosign clean` and sign and attest again) or raise --max-evidence-layers"
    )]
    Layers {
        image: String,
        found: usize,
        detail: String,
        limit: usize,
    },
    #[error(
        "signature, attestation and bundle layers of {found} bytes in all, more than the limit of {limit} bytes; remove stale ones or raise --max-evidence-bytes"
    )]
    Bytes {
        image: String,
        found: u64,
        limit: u64,
    },
    #[error("layer {digest} declares a negative size ({size})")]
    Size {
        image: String,
        digest: String,
        size: i64,
    },
}

/// Why the evidence of a digest could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Limit(#[from] LimitError),
}

/// The tag cosign stores `suffix` (`sig`, `att`) artifacts of `digest` under.
pub fn cosign_tag(digest: &Digest, suffix: &str) -> String {
    format!("sha256-{}.{suffix}", digest.hex())
}

/// Fetches the signatures and attestations of `digest` in `image`'s repository, within `limits`.
pub async fn fetch_artifacts(
    client: &RegistryClient,
    image: &ImageRef,
    digest: &Digest,
    limits: &FetchLimits,
) -> Result<Artifacts, FetchError> {
    let sig_tag = cosign_tag(digest, "sig");
    let att_tag = cosign_tag(digest, "att");
    let (sig, att, bundles) = futures::try_join!(
        layers(client, image, &sig_tag),
        layers(client, image, &att_tag),
        super::bundle::list(client, image, digest),
    )?;
    let sig: Vec<(usize, &Descriptor)> = sig
        .iter()
        .enumerate()
        .filter(|(_, l)| l.media_type == SIMPLE_SIGNING_MEDIA_TYPE)
        .collect();
    let att: Vec<(usize, &Descriptor)> = att
        .iter()
        .enumerate()
        .filter(|(_, l)| l.media_type == DSSE_MEDIA_TYPE)
        .collect();
    check_limits(
        image,
        limits,
        [
            ("signature", sig.iter().map(|(_, l)| *l).collect::<Vec<_>>()),
            ("attestation", att.iter().map(|(_, l)| *l).collect()),
            ("bundle", bundles.iter().map(|b| &b.layer).collect()),
        ],
    )?;

    let (sig_tag, att_tag) = (&sig_tag, &att_tag);
    let signatures = try_join_all(sig.into_iter().map(|(i, l)| async move {
        let payload = blob(client, image, l).await?;
        Ok::<_, RegistryError>(SignatureArtifact {
            origin: format!("signature {sig_tag}[{i}]"),
            payload: payload.to_vec(),
            signature: l
                .annotations
                .get(SIGNATURE_ANNOTATION)
                .cloned()
                .unwrap_or_default(),
            certificate: l.annotations.get(CERTIFICATE_ANNOTATION).cloned(),
            rekor_bundle: l.annotations.get(REKOR_BUNDLE_ANNOTATION).cloned(),
        })
    }));
    let attestations = try_join_all(att.into_iter().map(|(i, l)| async move {
        let envelope = blob(client, image, l).await?;
        Ok::<_, RegistryError>(AttestationArtifact {
            origin: format!("attestation {att_tag}[{i}]"),
            annotated_predicate_type: l.annotations.get(PREDICATE_TYPE_ANNOTATION).cloned(),
            envelope: envelope.to_vec(),
            // cosign's keyless attestations carry the same annotations as its signatures.
            keyless: l
                .annotations
                .get(CERTIFICATE_ANNOTATION)
                .map(|certificate| KeylessMaterial::CosignLayer {
                    certificate: certificate.clone(),
                    rekor_bundle: l.annotations.get(REKOR_BUNDLE_ANNOTATION).cloned(),
                }),
        })
    }));
    let bundles = try_join_all(bundles.into_iter().map(|b| async move {
        let bytes = blob(client, image, &b.layer).await?;
        Ok::<_, RegistryError>(b.into_artifact(&bytes))
    }));
    let (signatures, mut attestations, bundles) =
        futures::try_join!(signatures, attestations, bundles)?;
    let mut message_signatures = Vec::new();
    for b in bundles {
        match b {
            BundleArtifact::Attestation(a) => attestations.push(a),
            BundleArtifact::MessageSignature(m) => message_signatures.push(m),
        }
    }
    // A message signature is over the manifest bytes: fetch them (checked against the digest
    // by the client) only when one needs them.
    let subject_manifest = if message_signatures.is_empty() {
        None
    } else {
        client
            .manifest(image, digest.as_str())
            .await?
            .map(|m| m.bytes.to_vec())
    };
    Ok(Artifacts {
        signatures,
        attestations,
        message_signatures,
        subject_manifest,
    })
}

async fn blob(
    client: &RegistryClient,
    image: &ImageRef,
    l: &Descriptor,
) -> Result<hyper::body::Bytes, RegistryError> {
    // Sizes were checked non-negative by `check_limits`.
    client
        .blob(image, &l.digest, u64::try_from(l.size).unwrap_or(0))
        .await
}

/// Counts the layers of each kind and adds up their declared sizes, before any is downloaded.
fn check_limits<const N: usize>(
    image: &ImageRef,
    limits: &FetchLimits,
    kinds: [(&str, Vec<&Descriptor>); N],
) -> Result<(), LimitError> {
    let found: usize = kinds.iter().map(|(_, ls)| ls.len()).sum();
    if found > limits.max_layers {
        return Err(LimitError::Layers {
            image: image.to_string(),
            found,
            detail: kinds
                .iter()
                .map(|(kind, ls)| format!("{} {kind}", ls.len()))
                .collect::<Vec<_>>()
                .join(", "),
            limit: limits.max_layers,
        });
    }
    let mut bytes: u64 = 0;
    for l in kinds.iter().flat_map(|(_, ls)| ls) {
        let size = u64::try_from(l.size).map_err(|_| LimitError::Size {
            image: image.to_string(),
            digest: l.digest.clone(),
            size: l.size,
        })?;
        bytes = bytes.saturating_add(size);
    }
    if bytes > limits.max_bytes {
        return Err(LimitError::Bytes {
            image: image.to_string(),
            found: bytes,
            limit: limits.max_bytes,
        });
    }
    Ok(())
}

/// The layers of the manifest at `tag`, or none when the tag does not exist.
async fn layers(
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
            what: "manifest",
            why: e.to_string(),
        })?;
    Ok(body.layers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(size: i64) -> Descriptor {
        Descriptor {
            media_type: DSSE_MEDIA_TYPE.into(),
            digest: "sha256:00".into(),
            size,
            annotations: Default::default(),
            artifact_type: None,
        }
    }

    #[test]
    fn limits_name_what_was_found_and_the_limit() {
        let image = ImageRef::parse("127.0.0.1:5000/team/app:v1").unwrap();
        let limits = FetchLimits {
            max_layers: 3,
            max_bytes: 100,
        };
        let (a, b) = (layer(10), layer(60));
        assert_eq!(
            check_limits(
                &image,
                &limits,
                [("signature", vec![&a]), ("attestation", vec![&a, &b])]
            ),
            Ok(())
        );
        let e = check_limits(
            &image,
            &limits,
            [("signature", vec![&a]), ("attestation", vec![&a, &a, &a])],
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("4 signature, attestation and bundle layers (1 signature, 3 attestation), more than the limit of 3"),
            "{e}"
        );
        let e = check_limits(&image, &limits, [("attestation", vec![&b, &b])]).unwrap_err();
        assert!(
            e.to_string()
                .contains("of 120 bytes in all, more than the limit of 100 bytes"),
            "{e}"
        );
        let bad = layer(-1);
        assert!(matches!(
            check_limits(&image, &limits, [("attestation", vec![&bad])]),
            Err(LimitError::Size { .. })
        ));
        // Sizes that would overflow add up to "too many", not to a small number.
        let huge = layer(i64::MAX);
        assert!(matches!(
            check_limits(&image, &limits, [("attestation", vec![&huge, &huge])]),
            Err(LimitError::Bytes { .. })
        ));
    }
}

//! Fetches what the registry holds about one image digest: cosign's signatures
//! (`sha256-<hex>.sig`) and attestations (`sha256-<hex>.att`), and the Sigstore bundles that
//! refer to it (see [`super::bundle`]), whichever the registry holds. Everything is read
//! concurrently, and blobs are checked against their digests by the client.

use futures::future::try_join_all;

use super::reference::{Digest, ImageRef};
use super::registry::{ManifestBody, RegistryClient, RegistryError};
use super::verify::{
    Artifacts, AttestationArtifact, CERTIFICATE_ANNOTATION, PREDICATE_TYPE_ANNOTATION,
    REKOR_BUNDLE_ANNOTATION, SIGNATURE_ANNOTATION, SignatureArtifact,
};

/// The media type of cosign's simple-signing payload layers.
pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The media type of cosign's attestation layers.
pub const DSSE_MEDIA_TYPE: &str = "application/vnd.dsse.envelope.v1+json";

/// The tag cosign stores `suffix` (`sig`, `att`) artifacts of `digest` under.
pub fn cosign_tag(digest: &Digest, suffix: &str) -> String {
    format!("sha256-{}.{suffix}", digest.hex())
}

/// Fetches the signatures and attestations of `digest` in `image`'s repository.
pub async fn fetch_artifacts(
    client: &RegistryClient,
    image: &ImageRef,
    digest: &Digest,
) -> Result<Artifacts, RegistryError> {
    let sig_tag = cosign_tag(digest, "sig");
    let att_tag = cosign_tag(digest, "att");
    let (sig, att) = futures::try_join!(
        layers(client, image, &sig_tag),
        layers(client, image, &att_tag)
    )?;
    let (sig_tag, att_tag) = (&sig_tag, &att_tag);
    let signatures = try_join_all(
        sig.iter()
            .enumerate()
            .filter(|(_, l)| l.media_type == SIMPLE_SIGNING_MEDIA_TYPE)
            .map(|(i, l)| async move {
                let payload = client.blob(image, &l.digest).await?;
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
            }),
    );
    let attestations = try_join_all(
        att.iter()
            .enumerate()
            .filter(|(_, l)| l.media_type == DSSE_MEDIA_TYPE)
            .map(|(i, l)| async move {
                let envelope = client.blob(image, &l.digest).await?;
                Ok::<_, RegistryError>(AttestationArtifact {
                    origin: format!("attestation {att_tag}[{i}]"),
                    annotated_predicate_type: l.annotations.get(PREDICATE_TYPE_ANNOTATION).cloned(),
                    envelope: envelope.to_vec(),
                })
            }),
    );
    let bundles = super::bundle::fetch(client, image, digest);
    let (signatures, mut attestations, bundles) =
        futures::try_join!(signatures, attestations, bundles)?;
    attestations.extend(bundles);
    Ok(Artifacts {
        signatures,
        attestations,
    })
}

/// The layers of the manifest at `tag`, or none when the tag does not exist.
async fn layers(
    client: &RegistryClient,
    image: &ImageRef,
    tag: &str,
) -> Result<Vec<super::registry::Descriptor>, RegistryError> {
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

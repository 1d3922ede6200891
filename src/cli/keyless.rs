//! Keyless flags (cosign's names) shared by `verify` and `verify-bundle`, and the
//! `verify-bundle` subcommand: checks a Sigstore bundle for a local artifact, offline, against a
//! `trusted_root.json` file.
//!
//! Exit status of `verify-bundle`: 0 verified; 1 rejected (the reason printed); 2 bad invocation
//! or unreadable input.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;

use crate::evidence::keyless::{self, KeylessAuthority};
use crate::evidence::{Artifact, KeylessIdentity, Matcher, TrustedRoot};

/// Keyless (Fulcio/Rekor) trust: a trust root file and the identity that must have signed.
#[derive(Debug, Clone, Default, Args)]
pub struct KeylessArgs {
    /// A Sigstore `trusted_root.json` (Fulcio CAs, Rekor keys), given by the platform team.
    /// Read from the file only: nothing is fetched (no TUF). Every signature and attestation
    /// that carries a certificate (cosign `.sig`/`.att` layers, Sigstore bundles found as
    /// referrers) is verified against it and the identity below, never against `--key`.
    #[arg(long, env = "RELEASE_GATE_TRUSTED_ROOT")]
    pub trusted_root: Option<PathBuf>,

    /// The exact certificate identity (SAN: email or URI) that must have signed.
    #[arg(
        long,
        env = "RELEASE_GATE_CERTIFICATE_IDENTITY",
        conflicts_with = "certificate_identity_regexp"
    )]
    pub certificate_identity: Option<String>,

    /// A regular expression the whole certificate identity must match (anchored at both ends,
    /// unlike cosign).
    #[arg(long, env = "RELEASE_GATE_CERTIFICATE_IDENTITY_REGEXP")]
    pub certificate_identity_regexp: Option<String>,

    /// The exact OIDC issuer of the signing certificate
    /// (e.g. `https://token.actions.githubusercontent.com`).
    #[arg(
        long,
        env = "RELEASE_GATE_CERTIFICATE_OIDC_ISSUER",
        conflicts_with = "certificate_oidc_issuer_regexp"
    )]
    pub certificate_oidc_issuer: Option<String>,

    /// A regular expression the whole OIDC issuer must match (anchored).
    #[arg(long, env = "RELEASE_GATE_CERTIFICATE_OIDC_ISSUER_REGEXP")]
    pub certificate_oidc_issuer_regexp: Option<String>,
}

impl KeylessArgs {
    /// The keyless authority the flags describe; `None` when no keyless flag is given, an error
    /// when they are incomplete (a trust root without an identity would trust any signer).
    pub fn authority(&self) -> Result<Option<KeylessAuthority>, String> {
        let KeylessArgs {
            trusted_root,
            certificate_identity,
            certificate_identity_regexp,
            certificate_oidc_issuer,
            certificate_oidc_issuer_regexp,
        } = self;
        let matcher = |exact: &Option<String>, re: &Option<String>, flag: &str| match (exact, re) {
            (Some(s), _) => Ok(Some(Matcher::Exact(s.clone()))),
            (None, Some(r)) => Matcher::regex(r)
                .map(Some)
                .map_err(|e| format!("--{flag}-regexp: {e}")),
            (None, None) => Ok(None),
        };
        let subject = matcher(
            certificate_identity,
            certificate_identity_regexp,
            "certificate-identity",
        )?;
        let issuer = matcher(
            certificate_oidc_issuer,
            certificate_oidc_issuer_regexp,
            "certificate-oidc-issuer",
        )?;
        match (trusted_root, subject, issuer) {
            (None, None, None) => Ok(None),
            (Some(path), Some(subject), Some(issuer)) => {
                let root = TrustedRoot::from_file(path).map_err(|e| e.to_string())?;
                Ok(Some(KeylessAuthority {
                    root: Arc::new(root),
                    identity: KeylessIdentity { issuer, subject },
                }))
            }
            _ => Err("keyless verification needs all of --trusted-root, \
                 --certificate-identity[-regexp] and --certificate-oidc-issuer[-regexp]"
                .into()),
        }
    }
}

/// Flags of `verify-bundle`.
#[derive(Debug, Clone, Args)]
pub struct VerifyBundleArgs {
    /// The Sigstore bundle (`*.sigstore.json`, v0.1–v0.3).
    #[arg(long, env = "RELEASE_GATE_BUNDLE")]
    pub bundle: PathBuf,

    /// The signed file.
    #[arg(
        long,
        env = "RELEASE_GATE_ARTIFACT",
        conflicts_with = "artifact_digest",
        required_unless_present = "artifact_digest"
    )]
    pub artifact: Option<PathBuf>,

    /// The artifact's digest instead of the file (`sha256:<hex>`; DSSE bundles only).
    #[arg(long, env = "RELEASE_GATE_ARTIFACT_DIGEST")]
    pub artifact_digest: Option<String>,

    #[command(flatten)]
    pub keyless: KeylessArgs,
}

pub fn run_verify_bundle(args: VerifyBundleArgs) -> ExitCode {
    let bad = |e: String| {
        eprintln!("release-gate verify-bundle: {e}");
        ExitCode::from(2)
    };
    let authority = match args.keyless.authority() {
        Ok(Some(a)) => a,
        Ok(None) => {
            return bad("give --trusted-root, --certificate-identity[-regexp] and \
                 --certificate-oidc-issuer[-regexp]"
                .into());
        }
        Err(e) => return bad(e),
    };
    let bundle = match read(&args.bundle, "bundle") {
        Ok(b) => b,
        Err(e) => return bad(e),
    };
    let bytes;
    let artifact = match (&args.artifact, &args.artifact_digest) {
        (Some(p), _) => match read(p, "artifact") {
            Ok(b) => {
                bytes = b;
                Artifact::Bytes(&bytes)
            }
            Err(e) => return bad(e),
        },
        (None, Some(d)) => match parse_sha256(d) {
            Some(d) => Artifact::Sha256(d),
            None => return bad(format!("--artifact-digest '{d}' is not sha256:<64 hex>")),
        },
        (None, None) => return bad("give --artifact or --artifact-digest".into()),
    };
    match keyless::verify_bundle(&bundle, artifact, &authority.root, &authority.identity) {
        Ok(v) => {
            println!(
                "VERIFIED {} signed by {} (issuer {}), in Rekor at index {} since {}",
                args.bundle.display(),
                v.subject,
                v.issuer,
                v.log_index,
                v.integrated_time
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!(
                "REJECTED {}: [{}] {e}",
                args.bundle.display(),
                e.metric_label()
            );
            ExitCode::from(1)
        }
    }
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {what} {}: {e}", path.display()))
}

fn parse_sha256(s: &str) -> Option<[u8; 32]> {
    hex::decode(s.strip_prefix("sha256:")?)
        .ok()?
        .try_into()
        .ok()
}

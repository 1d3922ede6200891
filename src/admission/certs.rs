//! Self-managed webhook certificates, for clusters without cert-manager. The webhook is its own
//! CA: it makes an rcgen CA and a serving certificate for its Service's DNS names, keeps both in
//! a Secret in its namespace (so every replica and every restart serves the same chain), writes
//! the CA into the `caBundle` of the ValidatingWebhookConfiguration it names, and renews the
//! serving certificate before it expires, loading it into the running TLS server (the same
//! `RustlsConfig` reload the file-based rotation uses) without a restart.
//!
//! The pure part (issue, read the validity, decide when to renew) is plain functions; the
//! [`SelfManaged`] shell reads and writes the Secret and the webhook configuration.

use axum_server::tls_rustls::RustlsConfig;
use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};
use x509_cert::der::Decode;

/// Keys of the Secret (those of `kubernetes.io/tls` plus the CA, whose key lets any replica renew).
pub const CA_CERT: &str = "ca.crt";
pub const CA_KEY: &str = "ca.key";
pub const TLS_CERT: &str = "tls.crt";
pub const TLS_KEY: &str = "tls.key";
/// Annotation on the Secret: the names the serving certificate was issued for. Other names
/// (a renamed Service, another namespace) reissue it.
pub const NAMES_ANNOTATION: &str = "releasegate.dev/serving-names";

/// The CA outlives many serving certificates: it is in the API server's caBundle, and changing
/// it is the one step that needs every replica and the bundle to move together. Ten years, and
/// replaced (old and new both in the bundle) once less than two serving lifetimes remain.
const CA_LIFETIME: Duration = Duration::from_secs(10 * 365 * 86_400);
/// Certificates start this long before they are issued, so an API server whose clock is a
/// little behind still accepts a fresh one.
const CLOCK_SKEW: Duration = Duration::from_secs(300);
/// The Secret and the webhook configuration are re-read at least this often (another replica's
/// renewal, a `helm upgrade` that reset the caBundle), or sooner for short lifetimes.
const MAX_POLL: Duration = Duration::from_secs(60);

/// Errors of the self-managed certificates; each names what it was doing.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("cannot issue the webhook {what}: {source}")]
    Issue {
        what: &'static str,
        #[source]
        source: rcgen::Error,
    },
    #[error("the Secret {secret}: {what}")]
    Stored { secret: String, what: String },
    #[error("cannot {action} Secret {namespace}/{name}: {source}")]
    Secret {
        action: &'static str,
        namespace: String,
        name: String,
        #[source]
        source: Box<kube::Error>,
    },
    #[error("cannot write the caBundle into ValidatingWebhookConfiguration {name}: {source}")]
    CaBundle {
        name: String,
        #[source]
        source: Box<kube::Error>,
    },
    #[error("cannot load the issued certificate into the TLS server: {0}")]
    Load(#[source] std::io::Error),
}

impl CertError {
    pub fn metric_label(&self) -> &'static str {
        match self {
            CertError::Issue { .. } => "issue",
            CertError::Stored { .. } => "stored",
            CertError::Secret { .. } => "secret",
            CertError::CaBundle { .. } => "ca_bundle",
            CertError::Load(_) => "load",
        }
    }
}

/// Where the certificates live and how long they last.
#[derive(Debug, Clone)]
pub struct CertConfig {
    /// The webhook's namespace: the Secret lives here, the Service's DNS names are in it.
    pub namespace: String,
    pub secret: String,
    pub service: String,
    /// The ValidatingWebhookConfiguration whose every webhook gets the caBundle.
    pub webhook_configuration: String,
    /// Further names (or IP addresses) the serving certificate is valid for.
    pub extra_names: Vec<String>,
    /// Validity of a serving certificate.
    pub lifetime: Duration,
    /// Renew once this fraction of the lifetime has passed (0 < f < 1).
    pub renew_fraction: f64,
}

impl CertConfig {
    /// The names the serving certificate is for: the Service in every form the API server may
    /// use, then the extra names.
    pub fn names(&self) -> Vec<String> {
        let (s, n) = (&self.service, &self.namespace);
        let mut names = vec![
            format!("{s}.{n}.svc"),
            s.clone(),
            format!("{s}.{n}"),
            format!("{s}.{n}.svc.cluster.local"),
        ];
        for extra in &self.extra_names {
            if !names.contains(extra) {
                names.push(extra.clone());
            }
        }
        names
    }
}

/// The CA and the serving certificate, as PEM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertSet {
    /// The CA bundle: the signing CA first, then a previous CA still in use while it expires.
    pub ca_pem: String,
    pub ca_key_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
    /// The names [`Self::cert_pem`] was issued for (the Secret's annotation).
    pub names: Vec<String>,
}

/// Parses a renewal fraction for `--cert-renew-fraction`: a number strictly between 0 and 1.
pub fn parse_fraction(s: &str) -> Result<f64, String> {
    let f: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a number (e.g. 0.67 renews after two thirds)"))?;
    if f > 0.0 && f < 1.0 {
        Ok(f)
    } else {
        Err(format!("'{s}' must be between 0 and 1 (exclusive)"))
    }
}

fn issue_err(what: &'static str) -> impl FnOnce(rcgen::Error) -> CertError {
    move |source| CertError::Issue { what, source }
}

/// The CA's parameters, rebuilt from its key: the subject names the key's fingerprint, so a
/// new CA never shares a subject with the one it replaces, and a stored CA key is enough to
/// sign again (rcgen takes the issuer's subject and key identifier from these).
fn ca_params(key: &KeyPair) -> Result<CertificateParams, CertError> {
    use sha2::Digest as _;
    let mut p = CertificateParams::new(Vec::<String>::new()).map_err(issue_err("CA"))?;
    let id = hex::encode(&sha2::Sha256::digest(key.public_key_raw())[..8]);
    p.distinguished_name
        .push(DnType::CommonName, format!("release-gate webhook CA {id}"));
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(p)
}

fn validity(p: &mut CertificateParams, now: SystemTime, lifetime: Duration) {
    p.not_before = (now - CLOCK_SKEW).into();
    p.not_after = (now + lifetime).into();
}

/// A new CA: (certificate PEM, key PEM).
pub fn issue_ca(now: SystemTime) -> Result<(String, String), CertError> {
    let key = KeyPair::generate().map_err(issue_err("CA key"))?;
    let mut params = ca_params(&key)?;
    validity(&mut params, now, CA_LIFETIME);
    let cert = params.self_signed(&key).map_err(issue_err("CA"))?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// A serving certificate for `names`, valid for `lifetime`, signed by the CA key
/// `ca_key_pem`: (certificate PEM, key PEM).
pub fn issue_serving(
    ca_key_pem: &str,
    names: &[String],
    lifetime: Duration,
    now: SystemTime,
) -> Result<(String, String), CertError> {
    let ca_key = KeyPair::from_pem(ca_key_pem).map_err(issue_err("CA key (stored)"))?;
    let issuer = Issuer::new(ca_params(&ca_key)?, ca_key);
    let mut params = CertificateParams::new(names.to_vec()).map_err(issue_err("serving names"))?;
    if let Some(first) = names.first() {
        params
            .distinguished_name
            .push(DnType::CommonName, first.as_str());
    }
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.use_authority_key_identifier_extension = true;
    validity(&mut params, now, lifetime);
    let key = KeyPair::generate().map_err(issue_err("serving key"))?;
    let cert = params
        .signed_by(&key, &issuer)
        .map_err(issue_err("serving certificate"))?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// The end of the validity of the first certificate in `pem`.
pub fn not_after(pem: &str) -> Option<SystemTime> {
    let der = CertificateDer::from_pem_slice(pem.as_bytes()).ok()?;
    let cert = x509_cert::Certificate::from_der(&der).ok()?;
    let end = cert
        .tbs_certificate()
        .validity()
        .not_after
        .to_unix_duration();
    Some(SystemTime::UNIX_EPOCH + end)
}

/// When the certificate `pem`, issued for `lifetime`, is renewed: once `fraction` of the
/// lifetime has passed, i.e. when `(1 - fraction) * lifetime` of validity remains. An
/// unreadable certificate is due now.
pub fn renew_at(pem: &str, lifetime: Duration, fraction: f64) -> SystemTime {
    match not_after(pem) {
        Some(end) => end
            .checked_sub(lifetime.mul_f64(1.0 - fraction))
            .unwrap_or(SystemTime::UNIX_EPOCH),
        None => SystemTime::UNIX_EPOCH,
    }
}

/// The set to keep, given what the Secret holds (if anything) at `now`: the stored set while it
/// is whole, for the right names and not due; else one with a renewed serving certificate
/// (and a new CA when the stored one is missing or expiring, the old one kept in the bundle).
/// `Ok(None)`: keep the stored set as it is.
pub fn plan(
    stored: Option<&CertSet>,
    config: &CertConfig,
    now: SystemTime,
) -> Result<Option<CertSet>, CertError> {
    let names = config.names();
    let serving_ok = |s: &CertSet| {
        s.names == names
            && key_matches(&s.cert_pem, &s.key_pem)
            && chains_to_ca(s, &names[0], now)
            && renew_at(&s.cert_pem, config.lifetime, config.renew_fraction) > now
    };
    let ca_ok = |s: &CertSet| {
        KeyPair::from_pem(&s.ca_key_pem).is_ok()
            && not_after(&s.ca_pem).is_some_and(|end| end > now + config.lifetime.saturating_mul(2))
    };
    if let Some(s) = stored
        && ca_ok(s)
        && serving_ok(s)
    {
        return Ok(None);
    }
    let (ca_pem, ca_key_pem) = match stored {
        Some(s) if ca_ok(s) => (s.ca_pem.clone(), s.ca_key_pem.clone()),
        Some(s) if not_after(&s.ca_pem).is_some_and(|end| end > now) => {
            // The old CA still signs the certificates other replicas serve: trust both until
            // they have moved to the new one.
            let (pem, key) = issue_ca(now)?;
            let old = first_pem_block(&s.ca_pem);
            (format!("{pem}{old}"), key)
        }
        _ => issue_ca(now)?,
    };
    let (cert_pem, key_pem) = issue_serving(&ca_key_pem, &names, config.lifetime, now)?;
    Ok(Some(CertSet {
        ca_pem,
        ca_key_pem,
        cert_pem,
        key_pem,
        names,
    }))
}

/// True when `key_pem` is the private key of the certificate `cert_pem` (a hand-edited or
/// half-written Secret is repaired, not served).
fn key_matches(cert_pem: &str, key_pem: &str) -> bool {
    let (Ok(key), Ok(der)) = (
        KeyPair::from_pem(key_pem),
        CertificateDer::from_pem_slice(cert_pem.as_bytes()),
    ) else {
        return false;
    };
    use rcgen::PublicKeyData as _;
    x509_cert::Certificate::from_der(&der).is_ok_and(|c| {
        c.tbs_certificate()
            .subject_public_key_info()
            .subject_public_key
            .raw_bytes()
            == key.der_bytes()
    })
}

/// True when the serving certificate chains to the set's CA bundle for `name` at `now`, as
/// the API server will check it.
fn chains_to_ca(set: &CertSet, name: &str, now: SystemTime) -> bool {
    use rustls::client::danger::ServerCertVerifier as _;
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_slice_iter(set.ca_pem.as_bytes()).flatten() {
        if roots.add(ca).is_err() {
            return false;
        }
    }
    let (Ok(leaf), Ok(server)) = (
        CertificateDer::from_pem_slice(set.cert_pem.as_bytes()),
        rustls::pki_types::ServerName::try_from(name.to_string()),
    ) else {
        return false;
    };
    let Ok(verifier) = rustls::client::WebPkiServerVerifier::builder_with_provider(
        roots.into(),
        rustls::crypto::ring::default_provider().into(),
    )
    .build() else {
        return false;
    };
    let at = rustls::pki_types::UnixTime::since_unix_epoch(
        now.duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default(),
    );
    verifier
        .verify_server_cert(&leaf, &[], &server, &[], at)
        .is_ok()
}

fn first_pem_block(pem: &str) -> String {
    match pem.find("-----END CERTIFICATE-----") {
        Some(end) => format!("{}\n", &pem[..end + "-----END CERTIFICATE-----".len()]),
        None => String::new(),
    }
}

impl CertSet {
    /// Reads the set from a Secret; `None` when a key is missing (a fresh set is then made).
    pub fn from_secret(secret: &Secret) -> Option<Self> {
        let data = secret.data.as_ref()?;
        let text = |k: &str| {
            data.get(k)
                .and_then(|b| String::from_utf8(b.0.clone()).ok())
        };
        let names = secret
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(NAMES_ANNOTATION))
            .map(|n| n.split(',').map(str::to_string).collect())
            .unwrap_or_default();
        Some(Self {
            ca_pem: text(CA_CERT)?,
            ca_key_pem: text(CA_KEY)?,
            cert_pem: text(TLS_CERT)?,
            key_pem: text(TLS_KEY)?,
            names,
        })
    }

    fn data(&self) -> BTreeMap<String, ByteString> {
        [
            (CA_CERT, &self.ca_pem),
            (CA_KEY, &self.ca_key_pem),
            (TLS_CERT, &self.cert_pem),
            (TLS_KEY, &self.key_pem),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
        .collect()
    }
}

/// The shell: keeps the Secret, the caBundle and the served certificate in step.
pub struct SelfManaged {
    client: Client,
    config: CertConfig,
}

impl SelfManaged {
    pub fn new(client: Client, config: CertConfig) -> Self {
        Self { client, config }
    }

    fn secret_err(&self, action: &'static str) -> impl FnOnce(kube::Error) -> CertError + '_ {
        move |source| CertError::Secret {
            action,
            namespace: self.config.namespace.clone(),
            name: self.config.secret.clone(),
            source: Box::new(source),
        }
    }

    /// The set every replica serves: the stored one, or one this replica made and stored.
    /// Replicas racing to create or renew it agree on whichever write the API server took
    /// first (a conflict re-reads).
    pub async fn current(&self) -> Result<CertSet, CertError> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), &self.config.namespace);
        for _ in 0..3 {
            let existing = api
                .get_opt(&self.config.secret)
                .await
                .map_err(self.secret_err("read"))?;
            let stored = existing.as_ref().and_then(CertSet::from_secret);
            let Some(next) = plan(stored.as_ref(), &self.config, SystemTime::now())? else {
                return stored.ok_or_else(|| CertError::Stored {
                    secret: self.config.secret.clone(),
                    what: "vanished while being read".into(),
                });
            };
            let mut secret = existing.clone().unwrap_or_default();
            secret.metadata.name = Some(self.config.secret.clone());
            secret.metadata.namespace = Some(self.config.namespace.clone());
            secret
                .metadata
                .annotations
                .get_or_insert_with(BTreeMap::new)
                .insert(NAMES_ANNOTATION.into(), next.names.join(","));
            secret
                .metadata
                .labels
                .get_or_insert_with(BTreeMap::new)
                .insert("app.kubernetes.io/managed-by".into(), "release-gate".into());
            // Opaque (the chart creates it empty, and a kubernetes.io/tls Secret cannot be
            // created without its keys; the type cannot change later).
            secret.data = Some(next.data());
            let written = match existing {
                None => api.create(&PostParams::default(), &secret).await,
                // The resourceVersion read above makes this a compare-and-swap.
                Some(_) => {
                    api.replace(&self.config.secret, &PostParams::default(), &secret)
                        .await
                }
            };
            match written {
                Ok(_) => {
                    tracing::info!(secret = %self.config.secret, names = %next.names.join(","),
                        not_after = ?not_after(&next.cert_pem), "issued the webhook serving certificate");
                    return Ok(next);
                }
                Err(kube::Error::Api(e)) if e.code == 409 => continue,
                Err(e) => return Err(self.secret_err("write")(e)),
            }
        }
        Err(CertError::Stored {
            secret: self.config.secret.clone(),
            what: "kept changing under three attempts to write it".into(),
        })
    }

    /// Writes `ca_pem` as the caBundle of every webhook of the configuration that lacks it.
    /// Returns whether anything was written.
    pub async fn patch_ca_bundle(&self, ca_pem: &str) -> Result<bool, CertError> {
        use base64::Engine as _;
        let name = &self.config.webhook_configuration;
        let err = |source| CertError::CaBundle {
            name: name.clone(),
            source: Box::new(source),
        };
        let api: Api<ValidatingWebhookConfiguration> = Api::all(self.client.clone());
        let vwc = api.get(name).await.map_err(err)?;
        let want = ca_pem.as_bytes();
        let ops: Vec<serde_json::Value> = vwc
            .webhooks
            .unwrap_or_default()
            .iter()
            .enumerate()
            .filter(|(_, w)| w.client_config.ca_bundle.as_ref().map(|b| b.0.as_slice()) != Some(want))
            .map(|(i, _)| {
                serde_json::json!({"op": "add", "path": format!("/webhooks/{i}/clientConfig/caBundle"),
                    "value": base64::engine::general_purpose::STANDARD.encode(want)})
            })
            .collect();
        if ops.is_empty() {
            return Ok(false);
        }
        let patch = serde_json::from_value(serde_json::Value::Array(ops))
            .map_err(|e| err(kube::Error::SerdeError(e)))?;
        api.patch(name, &PatchParams::default(), &Patch::Json::<()>(patch))
            .await
            .map_err(err)?;
        tracing::info!(webhook_configuration = %name, "wrote the webhook CA into caBundle");
        Ok(true)
    }

    /// Keeps the certificates current until `shutdown`: renews the serving certificate when
    /// due (or takes another replica's renewal), reloads it into `tls`, and restores the
    /// caBundle if something reset it. Failures are logged and retried; the served certificate
    /// stays until a good one replaces it.
    pub async fn maintain(
        self,
        tls: RustlsConfig,
        mut served: CertSet,
        shutdown: crate::shutdown::Shutdown,
    ) {
        tokio::pin!(shutdown);
        let poll = MAX_POLL.min(
            self.config
                .lifetime
                .mul_f64(0.1)
                .max(Duration::from_secs(1)),
        );
        loop {
            let due = renew_at(
                &served.cert_pem,
                self.config.lifetime,
                self.config.renew_fraction,
            )
            .duration_since(SystemTime::now())
            .unwrap_or_default();
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(due.min(poll)) => {}
            }
            match self.step(&tls, &served).await {
                Ok(Some(next)) => served = next,
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, kind = e.metric_label(),
                    "cannot keep the webhook certificate current; still serving the previous one"),
            }
        }
    }

    async fn step(
        &self,
        tls: &RustlsConfig,
        served: &CertSet,
    ) -> Result<Option<CertSet>, CertError> {
        let current = self.current().await?;
        self.patch_ca_bundle(&current.ca_pem).await?;
        if current.cert_pem == served.cert_pem {
            return Ok(None);
        }
        tls.reload_from_pem(
            current.cert_pem.clone().into_bytes(),
            current.key_pem.clone().into_bytes(),
        )
        .await
        .map_err(CertError::Load)?;
        tracing::info!(not_after = ?not_after(&current.cert_pem), "serving the renewed webhook certificate");
        Ok(Some(current))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::client::danger::ServerCertVerifier as _;

    fn config(lifetime: Duration) -> CertConfig {
        CertConfig {
            namespace: "gate".into(),
            secret: "gate-tls".into(),
            service: "release-gate".into(),
            webhook_configuration: "release-gate".into(),
            extra_names: vec!["127.0.0.1".into()],
            lifetime,
            renew_fraction: 2.0 / 3.0,
        }
    }

    const DAY: Duration = Duration::from_secs(86_400);

    #[test]
    fn names_cover_the_service_and_the_extras() {
        let names = config(DAY).names();
        assert_eq!(names[0], "release-gate.gate.svc");
        assert!(names.contains(&"release-gate.gate.svc.cluster.local".to_string()));
        assert!(names.contains(&"127.0.0.1".to_string()));
    }

    #[test]
    fn a_fresh_set_is_made_then_kept_until_two_thirds_of_its_life() {
        let cfg = config(30 * DAY);
        let t0 = SystemTime::now();
        let set = plan(None, &cfg, t0).unwrap().expect("a new set");
        let end = not_after(&set.cert_pem).unwrap();
        assert!(end > t0 + 29 * DAY && end <= t0 + 30 * DAY + Duration::from_secs(1));
        assert_eq!(
            plan(Some(&set), &cfg, t0).unwrap(),
            None,
            "kept while fresh"
        );
        assert_eq!(plan(Some(&set), &cfg, t0 + 19 * DAY).unwrap(), None);
        let renewed = plan(Some(&set), &cfg, t0 + 21 * DAY)
            .unwrap()
            .expect("renewed");
        assert_ne!(renewed.cert_pem, set.cert_pem);
        assert_eq!(renewed.ca_pem, set.ca_pem, "the CA (the caBundle) stays");
        assert_eq!(renewed.ca_key_pem, set.ca_key_pem);
    }

    #[test]
    fn other_names_or_a_broken_key_reissue() {
        let cfg = config(DAY);
        let now = SystemTime::now();
        let set = plan(None, &cfg, now).unwrap().unwrap();
        let mut other = cfg.clone();
        other.service = "renamed".into();
        assert!(plan(Some(&set), &other, now).unwrap().is_some());
        let mut broken = set.clone();
        broken.key_pem = "garbage".into();
        let fixed = plan(Some(&broken), &cfg, now).unwrap().unwrap();
        assert_eq!(fixed.ca_pem, set.ca_pem);
        // A key of another certificate, or a certificate from another CA: reissued by ours.
        let other = plan(None, &cfg, now).unwrap().unwrap();
        let mut wrong_key = set.clone();
        wrong_key.key_pem = other.key_pem.clone();
        let fixed = plan(Some(&wrong_key), &cfg, now).unwrap().unwrap();
        assert!(key_matches(&fixed.cert_pem, &fixed.key_pem));
        assert!(!key_matches(&wrong_key.cert_pem, &wrong_key.key_pem));
        let mut foreign = set.clone();
        foreign.cert_pem = other.cert_pem.clone();
        foreign.key_pem = other.key_pem.clone();
        let fixed = plan(Some(&foreign), &cfg, now).unwrap().unwrap();
        assert_eq!(fixed.ca_pem, set.ca_pem);
        assert!(chains_to_ca(&fixed, "release-gate.gate.svc", now));
        assert!(!chains_to_ca(&foreign, "release-gate.gate.svc", now));
        let mut no_ca = set.clone();
        no_ca.ca_key_pem = "garbage".into();
        assert_ne!(
            plan(Some(&no_ca), &cfg, now).unwrap().unwrap().ca_pem,
            set.ca_pem
        );
    }

    #[test]
    fn the_serving_certificate_chains_to_the_ca_for_its_names() {
        let cfg = config(DAY);
        let set = plan(None, &cfg, SystemTime::now()).unwrap().unwrap();
        let ca = CertificateDer::from_pem_slice(set.ca_pem.as_bytes()).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca).unwrap();
        let leaf = CertificateDer::from_pem_slice(set.cert_pem.as_bytes()).unwrap();
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            roots.into(),
            rustls::crypto::ring::default_provider().into(),
        )
        .build()
        .unwrap();
        for name in ["release-gate.gate.svc", "127.0.0.1"] {
            let server = rustls::pki_types::ServerName::try_from(name).unwrap();
            verifier
                .verify_server_cert(&leaf, &[], &server, &[], rustls::pki_types::UnixTime::now())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        let wrong = rustls::pki_types::ServerName::try_from("evil.example").unwrap();
        assert!(
            verifier
                .verify_server_cert(&leaf, &[], &wrong, &[], rustls::pki_types::UnixTime::now())
                .is_err()
        );
        // Signed again from the stored CA key: still chains (the CA is rebuilt from its key).
        let (again, _) =
            issue_serving(&set.ca_key_pem, &cfg.names(), DAY, SystemTime::now()).unwrap();
        let again = CertificateDer::from_pem_slice(again.as_bytes()).unwrap();
        let server = rustls::pki_types::ServerName::try_from("release-gate.gate.svc").unwrap();
        verifier
            .verify_server_cert(
                &again,
                &[],
                &server,
                &[],
                rustls::pki_types::UnixTime::now(),
            )
            .unwrap();
    }

    #[test]
    fn an_expiring_ca_is_replaced_and_the_old_one_kept_in_the_bundle() {
        let cfg = config(DAY);
        let now = SystemTime::now();
        let set = plan(None, &cfg, now).unwrap().unwrap();
        let late = now + CA_LIFETIME - DAY;
        let next = plan(Some(&set), &cfg, late).unwrap().unwrap();
        assert_ne!(next.ca_key_pem, set.ca_key_pem);
        assert!(next.ca_pem.ends_with(&set.ca_pem), "{}", next.ca_pem);
        assert_eq!(next.ca_pem.matches("BEGIN CERTIFICATE").count(), 2);
    }

    #[test]
    fn fractions_outside_zero_to_one_are_refused() {
        assert_eq!(parse_fraction("0.5"), Ok(0.5));
        for bad in ["0", "1", "1.5", "-0.1", "two thirds"] {
            assert!(parse_fraction(bad).is_err(), "{bad}");
        }
    }
}

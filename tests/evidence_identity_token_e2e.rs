//! Issue 9 item 4: a registry identity token (dockerconfigjson `identitytoken`) is sent, as the
//! distribution token spec's OAuth2 refresh-token grant (what docker and go-containerregistry
//! do): POST to the token realm, an access token back.
//!
//! The registry is the real `docker-registry` with `auth: token`, which accepts only JWTs signed
//! by a certificate in its root bundle; `crane` and `cosign` push and sign through the same
//! docker config (they send the identity token the same way). The token service is the part
//! that cannot be run here (it is a vendor's: ACR, Harbor, a cloud IAM), so this file plays it:
//! it answers the refresh-token grant for one token and mints the JWT the registry checks.

mod evidence_support;

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use evidence_support::*;
use release_gate::evidence::registry::parse_docker_config;
use release_gate::evidence::{
    Error, RegistryConfig, RegistryError, Requirements, TrustPolicy, TrustedKey, Verifier,
};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};

const SERVICE: &str = "release-gate-test-registry";
const ISSUER: &str = "release-gate-test-token-service";
const IDENTITY_TOKEN: &str = "refresh-7c1d9e5a";

/// What the token service saw: one line per request.
type Seen = Arc<Mutex<Vec<String>>>;

struct TokenService {
    realm: String,
    root_pem: String,
    seen: Seen,
    _thread: std::thread::JoinHandle<()>,
}

fn jwt(key: &EcdsaKeyPair, cert_der: &[u8], scope: &str) -> String {
    let access: Vec<serde_json::Value> = scope
        .split(' ')
        .filter_map(|s| {
            let mut parts = s.splitn(3, ':');
            let (kind, name, actions) = (parts.next()?, parts.next()?, parts.next()?);
            Some(serde_json::json!({"type": kind, "name": name,
                "actions": actions.split(',').collect::<Vec<_>>()}))
        })
        .collect();
    let now = jiff::Timestamp::now().as_second();
    let header =
        serde_json::json!({"typ": "JWT", "alg": "ES256", "x5c": [STANDARD.encode(cert_der)]});
    let claims = serde_json::json!({"iss": ISSUER, "sub": "ci", "aud": SERVICE,
        "exp": now + 300, "nbf": now - 10, "iat": now - 10, "jti": format!("{now}-{scope}"),
        "access": access});
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = key.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
}

/// Starts the token service on a free loopback port.
fn token_service() -> TokenService {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let key =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let rc_key = rcgen::KeyPair::try_from(pkcs8.as_ref()).unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "release-gate test token signer");
    let cert = params.self_signed(&rc_key).unwrap();
    let (cert_der, root_pem) = (cert.der().to_vec(), cert.pem());

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    // By name: go-containerregistry refuses a realm at a private IP literal (crane and cosign
    // push and sign through this service too).
    let realm = format!(
        "http://localhost:{}/token",
        listener.local_addr().unwrap().port()
    );
    listener.set_nonblocking(true).unwrap();
    let seen: Seen = Arc::default();
    let state = (Arc::new(key), Arc::new(cert_der), seen.clone());
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let (key, cert_der, seen) = state;
            let seen_get = seen.clone();
            let app = axum::Router::new().route(
                "/token",
                axum::routing::post(move |body: String| {
                    let (key, cert_der, seen) = (key.clone(), cert_der.clone(), seen.clone());
                    async move {
                        let form: std::collections::HashMap<String, String> =
                            form_urlencoded::parse(body.as_bytes())
                                .into_owned()
                                .collect();
                        let get = |k: &str| form.get(k).cloned().unwrap_or_default();
                        let granted = get("grant_type") == "refresh_token"
                            && get("refresh_token") == IDENTITY_TOKEN
                            && get("service") == SERVICE;
                        seen.lock().unwrap().push(format!(
                            "POST client_id={} grant_type={} scope={} granted={granted}",
                            get("client_id"),
                            get("grant_type"),
                            get("scope")
                        ));
                        if !granted {
                            return Err(http::StatusCode::UNAUTHORIZED);
                        }
                        Ok(axum::Json(serde_json::json!({
                            "access_token": jwt(&key, &cert_der, &get("scope")),
                            "refresh_token": IDENTITY_TOKEN, "expires_in": 300})))
                    }
                })
                .get({
                    move || {
                        seen_get.lock().unwrap().push("GET".into());
                        async { http::StatusCode::UNAUTHORIZED }
                    }
                }),
            );
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    TokenService {
        realm,
        root_pem,
        seen,
        _thread: thread,
    }
}

fn docker_config(identity_token: &str, host: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({"auths": {host: {"identitytoken": identity_token}}}))
        .unwrap()
}

fn verify(
    reg: &Registry,
    config: Option<Vec<u8>>,
    key: &KeyPair,
    image: &str,
) -> Result<release_gate::evidence::Report, Error> {
    let v = Verifier::new(
        RegistryConfig {
            insecure: vec![reg.host.clone()],
            credentials: config
                .map(|c| parse_docker_config(&c).unwrap())
                .unwrap_or_default(),
            ..Default::default()
        },
        TrustPolicy {
            keys: vec![
                TrustedKey::from_pem("cosign.pub", &std::fs::read(&key.public).unwrap()).unwrap(),
            ],
            ..Default::default()
        },
    )
    .unwrap();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(v.verify(image, &Requirements::default()))
}

#[test]
#[ignore = "needs the real test bed: make test"]
fn an_identity_token_is_exchanged_with_the_refresh_token_grant() {
    let tokens = token_service();
    let reg = Registry::start_token_auth(&tokens.realm, SERVICE, ISSUER, &tokens.root_pem);
    let dir = reg.docker_config_dir();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.json"),
        docker_config(IDENTITY_TOKEN, &reg.host),
    )
    .unwrap();
    // crane and cosign get in with the identity token too (go-containerregistry sends it so).
    let image = reg.push_image("team/app", "v1");
    let key = generate_key(&reg, "cosign");
    sign(&reg, &key, &image);
    tokens.seen.lock().unwrap().clear();

    let r = verify(
        &reg,
        Some(docker_config(IDENTITY_TOKEN, &reg.host)),
        &key,
        &image,
    )
    .unwrap();
    assert!(r.verdict.is_accepted(), "{:?}", r.verdict.problems);
    let seen = tokens.seen.lock().unwrap().clone();
    assert!(
        seen.iter().any(|s| s
            == "POST client_id=release-gate grant_type=refresh_token scope=repository:team/app:pull granted=true"),
        "{seen:?}"
    );
    assert!(!seen.iter().any(|s| s == "GET"), "{seen:?}");

    // A wrong identity token: refused by the token service, reported as rejected credentials.
    let e = verify(
        &reg,
        Some(docker_config("refresh-wrong", &reg.host)),
        &key,
        &image,
    )
    .unwrap_err();
    assert!(
        matches!(&e, Error::Registry(RegistryError::AuthRejected { host, .. }) if host == &reg.host),
        "{e}"
    );
    assert!(e.to_string().contains("identitytoken"), "{e}");
    // None at all: the registry asks for credentials.
    let e = verify(&reg, None, &key, &image).unwrap_err();
    assert!(
        matches!(
            &e,
            Error::Registry(
                RegistryError::AuthRejected { .. } | RegistryError::AuthRequired { .. }
            )
        ),
        "{e}"
    );
}

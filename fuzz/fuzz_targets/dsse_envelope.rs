//! DSSE envelope parsing plus the in-toto statement inside (`evidence::dsse`), whatever the bytes:
//! no panic; an envelope that parses has a signature, and written back with standard base64 it
//! parses to the same envelope; the PAE is the DSSE v1 encoding of exactly the decoded payload;
//! `parse_attestation` agrees with `parse_envelope` followed by `parse_statement`.
#![no_main]
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use libfuzzer_sys::fuzz_target;
use release_gate::evidence::dsse;

fuzz_target!(|data: &[u8]| {
    let envelope = dsse::parse_envelope(data);
    let attestation = dsse::parse_attestation(data);
    match &envelope {
        Ok(env) => {
            assert!(!env.signatures.is_empty(), "an unsigned envelope parsed");
            let pae = dsse::pae(&env.payload_type, &env.payload);
            let head = format!(
                "DSSEv1 {} {} {} ",
                env.payload_type.len(),
                env.payload_type,
                env.payload.len()
            );
            assert!(pae.starts_with(head.as_bytes()) && pae.ends_with(&env.payload));
            assert_eq!(pae.len(), head.len() + env.payload.len());
            let written = serde_json::json!({
                "payloadType": env.payload_type,
                "payload": STANDARD.encode(&env.payload),
                "signatures": env.signatures.iter()
                    .map(|s| serde_json::json!({"keyid": s.keyid, "sig": STANDARD.encode(&s.sig)}))
                    .collect::<Vec<_>>(),
            });
            let again = dsse::parse_envelope(written.to_string().as_bytes())
                .expect("a written-back envelope parses");
            assert_eq!(&again, env, "the envelope does not round-trip");
            match &attestation {
                Ok((e, st)) => {
                    assert_eq!(e, env);
                    assert_eq!(e.payload_type, dsse::IN_TOTO_PAYLOAD_TYPE);
                    assert_eq!(Ok(st), dsse::parse_statement(&env.payload).as_ref());
                }
                Err(_) => assert!(
                    env.payload_type != dsse::IN_TOTO_PAYLOAD_TYPE
                        || dsse::parse_statement(&env.payload).is_err()
                ),
            }
        }
        Err(e) => assert_eq!(attestation.as_ref().err(), Some(e)),
    }
});

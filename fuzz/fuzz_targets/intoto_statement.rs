//! In-toto statement parsing (v0.1 and v1, `evidence::dsse::parse_statement`), whatever the bytes:
//! no panic; a statement that parses has a known `_type` and at least one well-formed sha256
//! subject digest, and written back as JSON parses to the same statement.
#![no_main]
use libfuzzer_sys::fuzz_target;
use release_gate::evidence::dsse;
use release_gate::evidence::reference::Digest;

fuzz_target!(|data: &[u8]| {
    let Ok(st) = dsse::parse_statement(data) else {
        return;
    };
    assert!([dsse::STATEMENT_V01, dsse::STATEMENT_V1].contains(&st.statement_type.as_str()));
    assert!(
        !st.subject_digests.is_empty(),
        "a statement without subjects parsed"
    );
    for d in &st.subject_digests {
        assert_eq!(
            Digest::parse(d.as_str()).as_ref(),
            Ok(d),
            "digest round-trip"
        );
        assert_eq!(d.as_str(), format!("sha256:{}", d.hex()));
    }
    let written = serde_json::json!({
        "_type": st.statement_type,
        "subject": st.subject_digests.iter()
            .map(|d| serde_json::json!({"name": "x", "digest": {"sha256": d.hex()}}))
            .collect::<Vec<_>>(),
        "predicateType": st.predicate_type,
        "predicate": st.predicate,
    });
    let again = dsse::parse_statement(written.to_string().as_bytes())
        .expect("a written-back statement parses");
    assert_eq!(again.statement_type, st.statement_type);
    assert_eq!(again.subject_digests, st.subject_digests);
    assert_eq!(again.predicate_type, st.predicate_type);
});

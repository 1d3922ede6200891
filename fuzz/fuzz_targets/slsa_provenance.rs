//! SLSA provenance summaries (v0.2 and v1; `evidence::predicates::parse_slsa`) of arbitrary JSON:
//! no panic; a summary has a non-blank builder id and build type (the strict predicates of
//! issue 9); and a provenance always satisfies the requirements it states itself (its builder
//! id with and without the `@ref`, its source repository), as slsa-verifier would check them.
#![no_main]
use libfuzzer_sys::fuzz_target;
use release_gate::evidence::predicates::{self, ProvenanceRequirements};

fuzz_target!(|data: &[u8]| {
    let Ok(v) = predicates::json(data) else {
        return;
    };
    for (ptype, version) in [(predicates::SLSA_V02, "v0.2"), (predicates::SLSA_V1, "v1")] {
        let Ok(p) = predicates::parse_slsa(ptype, &v) else {
            continue;
        };
        assert_eq!(p.slsa_version, version);
        assert!(!p.builder_id.trim().is_empty() && !p.build_type.trim().is_empty());
        let own = ProvenanceRequirements {
            builder_id: Some(p.builder_id.clone()),
            source_uri: p.source_repo.clone(),
        };
        assert_eq!(
            own.check(&p),
            Ok(()),
            "a provenance fails its own requirements"
        );
        if let Some((id, _)) = p.builder_id.split_once('@') {
            let unversioned = ProvenanceRequirements {
                builder_id: Some(id.to_owned()),
                source_uri: None,
            };
            assert_eq!(unversioned.check(&p), Ok(()), "any version of the builder");
        }
    }
});

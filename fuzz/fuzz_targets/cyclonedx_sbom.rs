//! SBOM summaries (CycloneDX, SPDX; `evidence::predicates::parse_sbom`) of arbitrary JSON under
//! either predicate type: no panic (nesting is walked without recursion); a summary names the
//! format it was read as, its licences are sorted and distinct, its digest is a sha256
//! digest; a document without `bomFormat` or `spdxVersion` is no SBOM under either type.
#![no_main]
use libfuzzer_sys::fuzz_target;
use release_gate::evidence::predicates;
use release_gate::evidence::reference::Digest;

fuzz_target!(|data: &[u8]| {
    let Ok(v) = predicates::json(data) else {
        return;
    };
    for (ptype, prefix) in [
        (predicates::CYCLONEDX, "CycloneDX "),
        (predicates::SPDX, ""),
    ] {
        let Ok(s) = predicates::parse_sbom(ptype, &v) else {
            continue;
        };
        assert!(s.format.starts_with(prefix));
        assert!(
            s.licenses.windows(2).all(|w| w[0] < w[1]),
            "licences sorted, distinct"
        );
        assert!(Digest::parse(&s.digest).is_ok(), "digest {}", s.digest);
        let field = if ptype == predicates::CYCLONEDX {
            "bomFormat"
        } else {
            "spdxVersion"
        };
        assert!(
            v.get(field).is_some(),
            "an SBOM without {field} read under {ptype}"
        );
    }
    let _ = predicates::parse_sbom("https://example.com/not-an-sbom", &v)
        .expect_err("an unknown predicate type is no SBOM");
});

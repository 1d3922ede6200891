//! The committed CRD YAML must be exactly what the Rust types generate: nobody hand-edits it.

#[test]
fn committed_crds_match_the_rust_types() {
    let generated = release_gate::api::crds_yaml().expect("CRDs render");
    // The chart carries its own copy (Helm installs crds/ of a chart before its templates).
    for file in [
        "crds/releasegate.dev.yaml",
        "charts/release-gate/crds/releasegate.dev.yaml",
    ] {
        let path = format!("{}/{file}", env!("CARGO_MANIFEST_DIR"));
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "{file} differs from the CRDs generated from src/api; \
             regenerate it with `make crds` and commit the result"
        );
    }
}

#[test]
fn every_crd_field_is_documented() {
    // Every property of every schema must carry a description: it becomes `kubectl explain`.
    fn walk(path: &str, v: &serde_json::Value, missing: &mut Vec<String>) {
        if let Some(props) = v.get("properties").and_then(|p| p.as_object()) {
            for (name, schema) in props {
                let p = format!("{path}.{name}");
                if schema.get("description").is_none()
                    && !matches!(name.as_str(), "metadata" | "apiVersion" | "kind")
                {
                    missing.push(p.clone());
                }
                walk(&p, schema, missing);
            }
        }
        if let Some(items) = v.get("items") {
            walk(&format!("{path}[]"), items, missing);
        }
    }
    let mut missing = Vec::new();
    for crd in release_gate::api::crds() {
        let v = serde_json::to_value(&crd).unwrap();
        for version in v["spec"]["versions"].as_array().unwrap() {
            let schema = &version["schema"]["openAPIV3Schema"];
            walk(&crd.spec.names.kind, schema, &mut missing);
        }
    }
    // Standard metav1.Condition fields come documented from k8s-openapi.
    assert!(
        missing.is_empty(),
        "fields without a doc comment: {missing:#?}"
    );
}

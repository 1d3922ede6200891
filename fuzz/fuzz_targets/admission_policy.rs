//! The admission and release decisions of the gate's own bundle (`policies/`), on regorus' VM,
//! for arbitrary JSON input: an attacker controls most of an AdmissionRequest. Every input must
//! give a verdict or an error (which the gate turns into a denial), never a panic or a hang
//! past the evaluation's time limit; and the VM must agree with regorus' interpreter.
#![no_main]
use libfuzzer_sys::fuzz_target;
use release_gate::policy::{ADMISSION_QUERY, Bundle, PolicyEngine, PolicyInput, RELEASE_QUERY};
use std::sync::OnceLock;

fn policy() -> &'static PolicyEngine {
    static POLICY: OnceLock<PolicyEngine> = OnceLock::new();
    POLICY.get_or_init(|| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies");
        PolicyEngine::load(&Bundle::from_dir(&dir).expect("bundle"), None).expect("compiles")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let input = PolicyInput::from_json(json);
    for entry in [ADMISSION_QUERY, RELEASE_QUERY] {
        let vm = policy().eval_rule(entry, &input);
        let interpreted = policy().interpret_rule(entry, &input);
        if let (Ok(vm), Ok(interpreted)) = (&vm, &interpreted) {
            assert_eq!(vm, interpreted, "VM and interpreter disagree on {entry}");
        }
    }
});

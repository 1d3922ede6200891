package releasegate.lib_test

import data.releasegate.fixtures as fx
import data.releasegate.lib
import data.releasegate.workload

test_decision_with_future_expiry_active if {
	now := fx.now # a local: see fixtures.now
	lib.decision_active(fx.override) with time.now_ns as now
}

test_decision_with_past_expiry_inactive if {
	d := fx.decision("old", "Approval", "2026-05-01T00:00:00Z", {})
	not lib.decision_active(d) with time.now_ns as fx.now
	lib.decision_expired(d) with time.now_ns as fx.now
}

test_approval_without_expiry_active if {
	lib.decision_active({"spec": {"type": "Approval"}}) with time.now_ns as fx.now
}

test_override_without_expiry_inactive if {
	not lib.decision_active({"spec": {"type": "Override"}}) with time.now_ns as fx.now
}

test_decisions_filtered_by_namespace if {
	other := object.union(fx.approval, {"metadata": {"namespace": "other"}})
	lib.decisions_in([fx.approval, other], "payments") == [fx.approval]
}

test_sensitivity_defaults_to_internal if {
	lib.sensitivity({}) == "internal"
	lib.sensitivity({"releasegate.dev/sensitivity": "restricted"}) == "restricted"
}

test_image_digest_of_pinned_image if {
	workload.image_digest(fx.image) == fx.digest
}

test_image_digest_of_tagged_image_undefined if {
	not workload.image_digest("registry.example.com/payments/api:2.4.0")
}

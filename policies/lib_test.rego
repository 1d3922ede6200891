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

test_decision_without_expiry_never_active if {
	not lib.decision_active({"metadata": {"name": "a", "namespace": "payments"}, "spec": {"type": "Approval"}}) with time.now_ns as fx.now
	not lib.decision_active({"metadata": {"name": "o", "namespace": "payments"}, "spec": {"type": "Override"}}) with time.now_ns as fx.now
}

test_malformed_expiry_never_active if {
	now := fx.now
	not lib.decision_active(fx.decision("a", "Approval", "tomorrow", {})) with time.now_ns as now
	not lib.decision_active(fx.decision("a", "Approval", 1893456000, {})) with time.now_ns as now
}

test_override_lifetime_is_bounded if {
	now := fx.now
	lib.within_lifetime(fx.decision("o", "Override", "2026-07-01T00:00:00Z", {})) with time.now_ns as now
	not lib.within_lifetime(fx.decision("o", "Override", "2026-07-02T00:00:00Z", {})) with time.now_ns as now
}

test_override_lifetime_counts_from_creation if {
	now := fx.now
	d := object.union(fx.decision("o", "Override", "2026-06-20T00:00:00Z", {}), {"metadata": {"creationTimestamp": "2026-05-01T00:00:00Z"}})
	not lib.within_lifetime(d) with time.now_ns as now
	ok := object.union(d, {"metadata": {"creationTimestamp": "2026-05-25T00:00:00Z"}})
	lib.within_lifetime(ok) with time.now_ns as now
}

test_decisions_filtered_by_namespace_and_shape if {
	other := object.union(fx.approval, {"metadata": {"namespace": "other"}})
	lib.decisions_in([fx.approval, other, "junk", {"spec": {}}], "payments") == [fx.approval]
}

test_sensitivity_defaults_to_internal if {
	unlabelled := fx.admission(fx.pod({}, {}, [fx.image]), {}, fx.user, {}, [])
	workload.sensitivity == "internal" with input as unlabelled
	workload.namespace_sensitivity == "internal" with input as unlabelled
	labelled := fx.admission(fx.pod({"releasegate.dev/sensitivity": "restricted"}, {}, [fx.image]), {}, fx.user, {}, [])
	workload.sensitivity == "restricted" with input as labelled
}

test_image_digest_of_pinned_image if {
	lib.image_digest(fx.image) == fx.digest
}

test_image_digest_of_tagged_or_malformed_image_undefined if {
	not lib.image_digest("registry.example.com/payments/api:2.4.0")
	not lib.image_digest("registry.example.com/payments/api@sha256:abc")
	not lib.image_digest("a@sha256:x@sha256:y")
	not lib.image_digest(42)
}

test_count_values_are_whole_and_not_negative if {
	lib.count_value(0)
	lib.count_value(7)
	not lib.count_value(-1)
	not lib.count_value(1.5)
	not lib.count_value("1")
	not lib.count_value(null)
}

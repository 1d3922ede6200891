package releasegate.minimisation_test

import data.releasegate.fixtures as fx
import data.releasegate.minimisation

test_allowed_fields_pass if {
	count(minimisation.deny) == 0 with input as fx.base
}

test_release_purpose_fields_pass if {
	count(minimisation.deny) == 0 with input as {"purpose": "release", "release": fx.release, "decisions": []}
}

test_extra_top_level_field_denied_by_name if {
	inp := object.union(fx.base, {"secrets": {"db": "hunter2"}})
	minimisation.deny == {"data minimisation: purpose \"admission\" does not allow field(s) secrets; remove them from the input"} with input as inp
}

test_extra_nested_fields_denied_by_name if {
	inp := object.union(fx.base, {"request": {"oldObject": {}}, "namespace": {"spec": {}}})
	minimisation.deny == {"data minimisation: purpose \"admission\" does not allow field(s) namespace.spec, request.oldObject; remove them from the input"} with input as inp
}

test_release_purpose_rejects_admission_fields if {
	inp := {"purpose": "release", "release": fx.release, "request": {}}
	fx.has(minimisation.deny, "purpose \"release\" does not allow field(s) request;") with input as inp
}

test_missing_purpose_denied if {
	minimisation.deny == {"data minimisation: the input declares no purpose; set `purpose` to one of admission, release"} with input as {"release": fx.release}
}

test_unknown_purpose_denied if {
	fx.has(minimisation.deny, "purpose \"marketing\" is not declared in data.allowed") with input as {"purpose": "marketing"}
}

test_allowance_comes_from_data if {
	count(minimisation.deny) == 0 with input as {"purpose": "audit", "who": "x"} with data.allowed as {"audit": {"purpose": true, "who": true}}
}

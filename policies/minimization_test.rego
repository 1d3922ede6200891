package releasegate.minimization_test

import data.releasegate.fixtures as fx
import data.releasegate.minimization

decide(purpose, fields) := d if {
	d := minimization.decision with input as {"request": {"purpose": purpose, "fields": fields}}
}

test_every_field_allowed_for_the_purpose if {
	decide("support", ["customer.id", "order.status"]) == {"allowed": true, "reasons": []}
}

# The mission's example admitted a request when ANY field was allowed; every field must be.
test_one_field_outside_the_purpose_denies_the_request if {
	d := decide("support", ["customer.id", "customer.billing_address"])
	d == {"allowed": false, "reasons": ["data minimisation: purpose \"support\" does not allow field(s) customer.billing_address; request only customer.id, customer.email, order.id, order.status"]}
}

test_nested_fields_are_dotted_paths if {
	decide("billing", ["order.total", "order.items.sku"]).allowed
	not decide("analytics", ["order"]).allowed
	not decide("support", ["customer.id.hash", "customer"]).allowed
}

test_prefix_of_a_name_is_not_a_parent if {
	not decide("support", ["customer.identity"]).allowed
	not decide("support", ["order.identifier"]).allowed
}

test_unknown_purpose_denied if {
	d := decide("marketing", ["customer.id"])
	not d.allowed
	fx.has(d.reasons, "purpose \"marketing\" is not declared; use one of analytics, billing, support")
}

test_malformed_requests_denied if {
	every r in [{"purpose": "support"}, {"fields": ["customer.id"]}, {"purpose": "support", "fields": "customer.id"}, {"purpose": "support", "fields": [1]}, {"purpose": ["support"], "fields": ["customer.id"]}] {
		d := minimization.decision with input as {"request": r}
		not d.allowed
		count(d.reasons) > 0
	}
	empty := minimization.decision with input as {}
	not empty.allowed
}

test_purposes_come_from_data if {
	d := minimization.decision with input as {"request": {"purpose": "audit", "fields": ["who"]}} with data.gate.minimization.purposes as {"audit": ["who"]}
	d.allowed
}

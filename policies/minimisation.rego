# Data minimisation: the policy input may carry only the fields its declared purpose needs
# (data.allowed[purpose]). `true` allows a field whole; a list allows only those sub-fields.
# Anything else is denied by name, so callers learn to send less, not more.
package releasegate.minimisation

purposes := sort([p | some p, _ in data.allowed])

deny contains msg if {
	not input.purpose
	msg := sprintf("data minimisation: the input declares no purpose; set `purpose` to one of %s", [concat(", ", purposes)])
}

deny contains msg if {
	not data.allowed[input.purpose]
	msg := sprintf("data minimisation: purpose %q is not declared in data.allowed; use one of %s", [input.purpose, concat(", ", purposes)])
}

deny contains msg if {
	allowed := data.allowed[input.purpose]
	fields := extra_fields(allowed)
	count(fields) > 0
	msg := sprintf("data minimisation: purpose %q does not allow field(s) %s; remove them from the input", [input.purpose, concat(", ", fields)])
}

# extra_fields(allowed) lists the input's fields outside the allowance, sorted, as dotted paths.
extra_fields(allowed) := sort(top | nested) if {
	top := {k | some k, _ in input; not allowed[k]}
	nested := {sprintf("%s.%s", [k, f]) |
		some k, spec in allowed
		is_array(spec)
		value := input[k]
		is_object(value)
		some f, _ in value
		not f in spec
	}
}

# Data minimisation: a consumer may read only the fields its declared purpose needs. The
# selector is `input.request.{purpose, fields}`: the request is allowed only when the purpose is
# known and EVERY requested field is allowed for it (one field outside the purpose denies the
# whole request). Fields are dotted paths; an allowed path covers itself and what is nested
# under it (`order` covers `order.total`, `customer.id` does not cover `customer.email`).
# Purposes and their fields live in data.gate.minimization.purposes.
#
# At admission, a workload that declares annotations releasegate.dev/purpose and
# releasegate.dev/data-fields (comma-separated) is judged by the same function.
#
# Entry point: data.releasegate.minimization.decision -> {"allowed": bool, "reasons": [string]}
package releasegate.minimization

import data.releasegate.lib

purposes := data.gate.minimization.purposes

purpose_names := sort([p | some p, _ in purposes])

request := lib.object_at(lib.root, "request")

default allow := false

allow if permitted(request_purpose, request_fields)

request_purpose := object.get(request, "purpose", null)

request_fields := object.get(request, "fields", null)

decision := {"allowed": allow, "reasons": reasons}

reasons := [] if allow

else := sort(problems(request_purpose, request_fields))

# permitted(purpose, fields) holds when purpose is known and every field is allowed for it.
permitted(purpose, fields) if {
	is_string(purpose)
	allowances := purposes[purpose]
	lib.strings(fields)
	every f in fields {
		covered(allowances, f)
	}
}

# covered(allowances, f): f is an allowed path or nested under one.
covered(allowances, f) if f in allowances

covered(allowances, f) if {
	some a in allowances
	startswith(f, concat("", [a, "."]))
}

# problems(purpose, fields) says why a request is not permitted.
problems(purpose, fields) := {sprintf("data minimisation: purpose %q is not declared; use one of %s", [sprintf("%v", [purpose]), concat(", ", purpose_names)])} if {
	not purposes[purpose]
} else := {"data minimisation: `fields` must be a list of dotted field paths (strings)"} if {
	not lib.strings(fields)
} else := {sprintf("data minimisation: purpose %q does not allow field(s) %s; request only %s", [purpose, concat(", ", sort(outside)), concat(", ", purposes[purpose])]) |
	outside := [f | some f in fields; not covered(purposes[purpose], f)]
	count(outside) > 0
}

# workload_fields(annotations) is the list a workload declares in releasegate.dev/data-fields.
workload_fields(annotations) := [trim_space(f) |
	some f in split(annotations[lib.labels.data_fields], ",")
	trim_space(f) != ""
]

# declares(annotations) holds when a workload declares a purpose or data fields.
declares(annotations) if lib.has_key(annotations, lib.labels.purpose)

declares(annotations) if lib.has_key(annotations, lib.labels.data_fields)

# workload_satisfied(annotations) holds when the workload declares nothing, or declares both a
# purpose and fields that the purpose permits.
workload_satisfied(annotations) if not declares(annotations)

workload_satisfied(annotations) if {
	lib.has_key(annotations, lib.labels.data_fields)
	permitted(annotations[lib.labels.purpose], workload_fields(annotations))
}

# workload_problems(subject, annotations) says why the declaration is not permitted.
workload_problems(subject, annotations) := {msg |
	declares(annotations)
	not lib.has_key(annotations, lib.labels.data_fields)
	msg := sprintf("%s: declares purpose but no fields; annotate %s with the comma-separated fields it reads", [subject, lib.labels.data_fields])
} | {msg |
	declares(annotations)
	lib.has_key(annotations, lib.labels.data_fields)
	some p in problems(object.get(annotations, lib.labels.purpose, "(none)"), workload_fields(annotations))
	msg := sprintf("%s: %s", [subject, p])
}

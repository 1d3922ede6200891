# Shared helpers: the clock, Decision validity, attribute lookups and type guards, so that every
# package agrees on what "unexpired", "sensitivity" and "a string" mean.
#
# The gate evaluates with strict builtin errors: a builtin error anywhere (to_number("x"),
# sprintf("%d", 1.5), object.get on a list) aborts the evaluation and the caller denies. The
# helpers below check types first, so that a malformed input gets a reason, not only an error.
package releasegate.lib

# The label and annotation keys the gate reads (data.json `gate.labels`).
labels := data.gate.labels

# The evaluation clock. Tests pin it with `with time.now_ns as <ns>`.
now_ns := time.now_ns()

# as_object(x) is x when it is an object, otherwise {} (so lookups stay defined and typed).
as_object(x) := x if is_object(x)

else := {}

# as_array(x) is x when it is an array, otherwise [].
as_array(x) := x if is_array(x)

else := []

# as_string(x) is x when it is a string, otherwise "".
as_string(x) := x if is_string(x)

else := ""

# object_at(o, k), array_at(o, k), string_at(o, k): field k of o, typed, or empty when o is
# not an object, has no k, or k has another type. Defined whenever o is, so lookups chain.
object_at(o, k) := as_object(object.get(as_object(o), k, {}))

array_at(o, k) := as_array(object.get(as_object(o), k, []))

string_at(o, k) := as_string(object.get(as_object(o), k, ""))

# at(o, path) is the value at path (a key or a list of keys) under o, or null. Use it inside
# `not f(...)`: OPA fails a rule whose negated call has an undefined argument (the argument is
# evaluated outside the negation), while regorus negates; a defined null keeps them agreeing.
at(o, path) := object.get(as_object(o), path, null)

# root is the input document when it is an object, {} otherwise.
default root := {}

root := input if is_object(input)

# nonblank(x) holds for a string with something other than white space in it.
nonblank(x) if {
	is_string(x)
	trim_space(x) != ""
}

# strings(xs) holds for an array whose every element is a string.
strings(xs) if {
	is_array(xs)
	every x in xs {
		is_string(x)
	}
}

# count_value(x) holds for a whole, non-negative number (a finding count, a budget).
count_value(x) if {
	is_number(x)
	x >= 0
	floor(x) == x
}

# has_key(obj, k) holds when object obj has key k, whatever its value (false and null too).
has_key(obj, k) if {
	is_object(obj)
	some key, _ in obj
	key == k
}

# rfc3339_ns(s) is the time s names, in ns since the epoch; undefined unless s is an RFC 3339
# timestamp (checked first, so a malformed one is a reason, not an evaluation error).
rfc3339_ns(s) := time.parse_rfc3339_ns(s) if {
	is_string(s)
	regex.match(`^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})$`, s)
}

# Decision shape: metadata.name/namespace and spec.type strings.
decision_shaped(d) if {
	is_object(d)
	nonblank(d.metadata.name)
	nonblank(d.metadata.namespace)
	is_object(d.spec)
	is_string(d.spec.type)
}

# expires_ns(d) is Decision d's expiry; undefined when it has none or it does not parse.
expires_ns(d) := rfc3339_ns(d.spec.expires)

# decision_active(d) holds when Decision d names an expiry that has not passed. Every decision
# the gate honours must end: a Decision without a valid expiry is never active.
decision_active(d) if expires_ns(d) > now_ns

# decision_expired(d) holds when Decision d names an expiry that has passed.
decision_expired(d) if expires_ns(d) <= now_ns

# decisions_in(decisions, ns) are the well-formed Decisions recorded in namespace ns.
decisions_in(decisions, ns) := [d |
	some d in as_array(decisions)
	decision_shaped(d)
	d.metadata.namespace == ns
]

# within_lifetime(d) holds when override d ends at most data.gate.overrides.max_lifetime_seconds
# after now and, when the API server recorded its creation, after it was created: an override
# cannot be written to last a year.
within_lifetime(d) if {
	max_ns := data.gate.overrides.max_lifetime_seconds * 1000000000
	exp := expires_ns(d)
	exp - now_ns <= max_ns
	created_within(d, exp, max_ns)
}

created_within(d, _, _) if not has_key(object_at(d, "metadata"), "creationTimestamp")

created_within(d, exp, max_ns) if exp - rfc3339_ns(d.metadata.creationTimestamp) <= max_ns

# sensitivity_names is the list of levels, for messages.
sensitivity_names := sort([s | some s, _ in data.gate.abac.sensitivity_levels])

# image_digest(image) is the sha256 digest an image reference is pinned to.
image_digest(image) := digest if {
	is_string(image)
	parts := split(image, "@")
	count(parts) == 2
	valid_digest(parts[1])
	digest := parts[1]
}

# valid_digest(d) holds for sha256:<64 lowercase hex>.
valid_digest(d) if {
	is_string(d)
	startswith(d, "sha256:")
	count(d) == 71
	trim(substring(d, 7, 64), "0123456789abcdef") == ""
}

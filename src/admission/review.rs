//! AdmissionReview in and out. Parsing is strict about what the gate relies on (`apiVersion`
//! `admission.k8s.io/v1`, kind `AdmissionReview`, a request with a `uid`) and says what is
//! wrong; everything else of the request is passed on as JSON for the policy's own contract
//! check. Answers always echo the request's `uid`.

use serde::Serialize;
use serde_json::Value as Json;

/// The only AdmissionReview version the gate speaks (`admissionReviewVersions: ["v1"]`).
pub const API_VERSION: &str = "admission.k8s.io/v1";

/// Why a body is not an AdmissionReview the gate can answer.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReviewError {
    #[error("the body is not JSON: {0}")]
    NotJson(String),
    #[error(
        "apiVersion is {found:?}, not \"admission.k8s.io/v1\"; set admissionReviewVersions: [\"v1\"] in the webhook configuration"
    )]
    ApiVersion { found: String },
    #[error("kind is {found:?}, not \"AdmissionReview\"")]
    Kind { found: String },
    #[error("the AdmissionReview has no request object")]
    NoRequest,
    #[error("request.uid is missing or empty; the API server always sends one")]
    NoUid,
}

/// A parsed review: the request's uid and the request itself, as JSON.
#[derive(Debug, Clone)]
pub struct Review {
    pub uid: String,
    pub request: Json,
}

impl Review {
    /// Parses a body. The body size is bounded by the server before this is called.
    pub fn parse(body: &[u8]) -> Result<Self, ReviewError> {
        let mut doc: Json =
            serde_json::from_slice(body).map_err(|e| ReviewError::NotJson(e.to_string()))?;
        let field = |k: &str| doc.get(k).and_then(Json::as_str).unwrap_or("").to_string();
        let api_version = field("apiVersion");
        if api_version != API_VERSION {
            return Err(ReviewError::ApiVersion { found: api_version });
        }
        let kind = field("kind");
        if kind != "AdmissionReview" {
            return Err(ReviewError::Kind { found: kind });
        }
        // Taken out of the document, not copied: the request is most of the body.
        let request = match doc.get_mut("request").map(Json::take) {
            Some(r @ Json::Object(_)) => r,
            _ => return Err(ReviewError::NoRequest),
        };
        let uid = request
            .get("uid")
            .and_then(Json::as_str)
            .filter(|u| !u.trim().is_empty())
            .ok_or(ReviewError::NoUid)?
            .to_string();
        Ok(Self { uid, request })
    }

    /// `request.namespace`, when the object is namespaced.
    pub fn namespace(&self) -> Option<&str> {
        self.request
            .get("namespace")
            .and_then(Json::as_str)
            .filter(|n| !n.is_empty())
    }

    /// `request.kind.kind`.
    pub fn kind(&self) -> &str {
        self.request
            .pointer("/kind/kind")
            .and_then(Json::as_str)
            .unwrap_or("")
    }

    /// `request.operation`.
    pub fn operation(&self) -> &str {
        self.request
            .get("operation")
            .and_then(Json::as_str)
            .unwrap_or("")
    }
}

/// The gate's answer to one review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub allowed: bool,
    /// Shown by kubectl after "denied the request:".
    pub message: Option<String>,
    /// Shown by kubectl as `Warning: ...` lines (warn mode).
    pub warnings: Vec<String>,
}

impl Answer {
    pub fn allow() -> Self {
        Self {
            allowed: true,
            message: None,
            warnings: Vec::new(),
        }
    }

    pub fn deny(message: impl Into<String>) -> Self {
        Self {
            allowed: false,
            message: Some(message.into()),
            warnings: Vec::new(),
        }
    }
}

#[derive(Serialize)]
struct ReviewOut<'a> {
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    kind: &'static str,
    response: ResponseOut<'a>,
}

#[derive(Serialize)]
struct ResponseOut<'a> {
    uid: &'a str,
    allowed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<StatusOut<'a>>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    warnings: &'a [String],
}

#[derive(Serialize)]
struct StatusOut<'a> {
    code: u16,
    message: &'a str,
}

/// The longest denial message sent back: the API server puts it in the error kubectl prints,
/// and a page of reasons is still readable; anything longer is cut with a note.
const MAX_MESSAGE: usize = 8 * 1024;

/// The AdmissionReview response for `uid`.
pub fn respond(uid: &str, answer: &Answer) -> Json {
    let message = answer.message.as_deref().map(|m| {
        if m.len() <= MAX_MESSAGE {
            m.to_string()
        } else {
            let mut cut = MAX_MESSAGE;
            while !m.is_char_boundary(cut) {
                cut -= 1;
            }
            format!("{}… (cut; see the webhook's log)", &m[..cut])
        }
    });
    let out = ReviewOut {
        api_version: API_VERSION,
        kind: "AdmissionReview",
        response: ResponseOut {
            uid,
            allowed: answer.allowed,
            status: message.as_deref().map(|m| StatusOut {
                code: if answer.allowed { 200 } else { 403 },
                message: m,
            }),
            warnings: &answer.warnings,
        },
    };
    serde_json::to_value(out).unwrap_or(Json::Null)
}

/// The answer to a body that is not a review: denied, with the reason, and the uid when one
/// could be read (the API server treats a missing or wrong uid as a failed call, which the
/// webhook's failurePolicy: Fail turns into a denial too).
pub fn respond_invalid(body: &[u8], error: &ReviewError) -> Json {
    let uid = serde_json::from_slice::<Json>(body)
        .ok()
        .and_then(|d| {
            d.pointer("/request/uid")
                .and_then(Json::as_str)
                .map(str::to_string)
        })
        .unwrap_or_default();
    respond(
        &uid,
        &Answer::deny(format!("release-gate: invalid AdmissionReview: {error}")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: Json) -> Vec<u8> {
        serde_json::to_vec(&v).unwrap()
    }

    #[test]
    fn parses_a_v1_review() {
        let r = Review::parse(&body(json!({
            "apiVersion": API_VERSION, "kind": "AdmissionReview",
            "request": {"uid": "u1", "namespace": "team", "kind": {"kind": "Pod"}, "operation": "CREATE"}
        })))
        .unwrap();
        assert_eq!(
            (r.uid.as_str(), r.namespace(), r.kind(), r.operation()),
            ("u1", Some("team"), "Pod", "CREATE")
        );
    }

    #[test]
    fn malformed_reviews_say_what_is_wrong() {
        let cases = [
            (b"{not json".to_vec(), "not JSON"),
            (
                body(
                    json!({"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview", "request": {"uid": "u"}}),
                ),
                "admissionReviewVersions",
            ),
            (
                body(json!({"apiVersion": API_VERSION, "kind": "Pod", "request": {"uid": "u"}})),
                "not \"AdmissionReview\"",
            ),
            (
                body(json!({"apiVersion": API_VERSION, "kind": "AdmissionReview"})),
                "no request",
            ),
            (
                body(
                    json!({"apiVersion": API_VERSION, "kind": "AdmissionReview", "request": {"uid": " "}}),
                ),
                "request.uid",
            ),
            (body(json!([1, 2])), "apiVersion"),
        ];
        for (b, want) in cases {
            let err = Review::parse(&b).expect_err("invalid");
            assert!(err.to_string().contains(want), "{err} / {want}");
            let out = respond_invalid(&b, &err);
            assert_eq!(out["response"]["allowed"], false);
        }
    }

    #[test]
    fn answers_echo_the_uid_with_message_and_warnings() {
        let out = respond("u9", &Answer::deny("no"));
        assert_eq!(out["response"]["uid"], "u9");
        assert_eq!(out["response"]["status"]["code"], 403);
        let mut a = Answer::allow();
        a.warnings.push("careful".into());
        let out = respond("u9", &a);
        assert_eq!(out["response"]["allowed"], true);
        assert_eq!(out["response"]["warnings"][0], "careful");
        let long = respond("u", &Answer::deny("é".repeat(10_000)));
        assert!(
            long["response"]["status"]["message"]
                .as_str()
                .unwrap()
                .ends_with("(cut; see the webhook's log)")
        );
    }
}

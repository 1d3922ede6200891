//! The webhook's body parse and answer (`admission::review`), and the images it reads from the
//! request (`admission::images`): anyone who may create a workload writes most of the
//! AdmissionReview the API server forwards. Whatever the bytes: no panic; a body that parses has
//! a non-blank uid and an object request; every answer is an AdmissionReview v1 that echoes the
//! uid it could read and, for a body that does not parse, denies; a long denial message is cut
//! on a character boundary; an image's digest is a full sha256 taken from its end.
#![no_main]
use libfuzzer_sys::fuzz_target;
use release_gate::admission::images;
use release_gate::admission::review::{self, API_VERSION, Answer, Review};
use serde_json::Value as Json;

/// The answer envelope every response must have.
fn check_answer(out: &Json, uid: &str, allowed: bool) {
    assert_eq!(out["apiVersion"], API_VERSION);
    assert_eq!(out["kind"], "AdmissionReview");
    assert_eq!(out["response"]["uid"], uid);
    assert_eq!(out["response"]["allowed"], allowed);
}

fuzz_target!(|data: &[u8]| {
    match Review::parse(data) {
        Ok(r) => {
            assert!(!r.uid.trim().is_empty(), "a parsed review has a uid");
            assert!(r.request.is_object());
            let _ = (r.namespace(), r.operation());
            check_answer(&review::respond(&r.uid, &Answer::allow()), &r.uid, true);
            let kind = r.kind();
            for key in ["object", "oldObject"] {
                let Some(object) = r.request.get(key) else {
                    continue;
                };
                for image in images::images(kind, object) {
                    if let Some(d) = images::digest_of(&image) {
                        assert!(image.ends_with(d) && d.len() == "sha256:".len() + 64);
                    }
                }
            }
            if images::update_keeps_images(&r.request) {
                assert_eq!(r.operation(), "UPDATE");
            }
        }
        Err(e) => {
            let out = review::respond_invalid(data, &e);
            let uid = out["response"]["uid"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            check_answer(&out, &uid, false);
            assert!(out["response"]["status"]["message"].is_string());
        }
    }
    // Denial messages carry text from the request (names, reasons): any text, at any length,
    // is sent whole or cut on a character boundary with a note.
    if let Ok(text) = std::str::from_utf8(data)
        && !text.is_empty()
    {
        for message in [text.to_owned(), text.repeat(8 * 1024 / text.len() + 1)] {
            let out = review::respond("u", &Answer::deny(message.clone()));
            check_answer(&out, "u", false);
            let sent = out["response"]["status"]["message"]
                .as_str()
                .expect("message");
            if sent != message {
                let kept = sent
                    .strip_suffix("… (cut; see the webhook's log)")
                    .expect("a cut message says so");
                assert!(message.starts_with(kept) && kept.len() <= 8 * 1024);
            }
        }
    }
});

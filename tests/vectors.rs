//! Every case of `tests/data/signature-vectors.json`, checked against the
//! verifier. The file holds 33 header/body/secret cases with the verdict of
//! stripe-python, or of our stricter policy where the case says so.

use base64::Engine;
use serde::Deserialize;
use stripe_eventbridge::config::WebhookSecret;
use stripe_eventbridge::signature::{self, SignatureError, Verification};

#[derive(Deserialize)]
struct Vectors {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    id: String,
    header: String,
    body_base64: String,
    secrets: Vec<String>,
    now: u64,
    tolerance_secs: u64,
    expect: String,
    reason: Option<String>,
}

fn check(case: &Case) -> Result<(), SignatureError> {
    let body = base64::engine::general_purpose::STANDARD
        .decode(&case.body_base64)
        .expect("vector body is base64");
    let secrets: Vec<WebhookSecret> = case
        .secrets
        .iter()
        .map(|s| WebhookSecret::new(s).expect("vector secret is whsec_"))
        .collect();
    let header = signature::parse_header(&case.header)?;
    signature::verify(
        &header,
        &body,
        &secrets,
        Verification {
            now: case.now,
            tolerance_secs: case.tolerance_secs,
        },
    )
}

#[test]
fn every_vector_matches_its_verdict() {
    let vectors: Vectors =
        serde_json::from_str(include_str!("data/signature-vectors.json")).expect("vectors parse");
    assert_eq!(vectors.cases.len(), 33, "vector count");
    let mut failures = Vec::new();
    for case in &vectors.cases {
        let result = check(case);
        let verdict_ok = match case.expect.as_str() {
            "accept" => result.is_ok(),
            "reject" => match (&result, &case.reason) {
                (Err(error), Some(reason)) => error.reason() == reason,
                (Err(_), None) => true,
                (Ok(()), _) => false,
            },
            other => panic!("case {}: unknown verdict {other}", case.id),
        };
        if !verdict_ok {
            failures.push(format!(
                "{}: expected {} {:?}, got {:?}",
                case.id, case.expect, case.reason, result
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "failing vectors:\n{}",
        failures.join("\n")
    );
}

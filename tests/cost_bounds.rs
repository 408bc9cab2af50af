//! Cost bounds of the signature check, counted rather than timed: a request
//! whose `Stripe-Signature` header or body is over a limit is rejected before
//! any HMAC is computed.
//!
//! The count comes from the receiver's injected clock. `Receiver` reads its
//! clock once per verification, to build the time window passed with the
//! HMAC check, and nowhere else. A clock that counts its reads therefore
//! counts verifications, each one HMAC per configured secret, with no test
//! hook in the product. `verification_reads_clock_once` checks that
//! calibration, so it fails first if the handler starts reading the clock
//! elsewhere.
//!
//! Every oversized request below carries a correct signature. A handler that
//! checked a limit only after the HMAC would find the MAC authentic and then
//! need the clock for the time window. So the count catches a limit moved
//! behind the HMAC even where the response stays the same.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};
use stripe_eventbridge::handler::Receiver;
use stripe_eventbridge::signature::{MAX_HEADER_BYTES, MAX_V1_SIGNATURES, sign_v1};
use support::stub::{Reply, StubEventBridge};
use support::{
    Encoding, NOW, SECRET, event_body, http_api_event, read, receiver, request, rest_event, sign,
};

/// `MAX_BODY_BYTES` of the receivers here. It is smaller than the 4 MiB
/// default so that the oversized bodies build and parse quickly.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// A receiver whose clock reads [`NOW`] and counts its reads.
struct Counted {
    receiver: Receiver,
    clock_reads: Arc<AtomicUsize>,
    stub: StubEventBridge,
}

impl Counted {
    async fn start() -> Self {
        let stub = StubEventBridge::start(vec![Reply::Accept]).await;
        let clock_reads = Arc::new(AtomicUsize::new(0));
        let reads = Arc::clone(&clock_reads);
        let max_body_bytes = MAX_BODY_BYTES.to_string();
        let receiver = receiver(&stub.url(), &[("MAX_BODY_BYTES", &max_body_bytes)])
            .await
            .with_clock(Arc::new(move || {
                reads.fetch_add(1, Ordering::SeqCst);
                NOW
            }));
        Self {
            receiver,
            clock_reads,
            stub,
        }
    }

    /// Handles `event` and returns the status, the JSON response body and
    /// the number of verifications it ran.
    async fn handle(&self, event: &Value) -> (u16, Value, usize) {
        let before = self.clock_reads.load(Ordering::SeqCst);
        let (status, body) = read(&self.receiver.handle(request(event)).await);
        let verifications = self.clock_reads.load(Ordering::SeqCst) - before;
        (status, body, verifications)
    }
}

fn headers(signature: &str) -> Value {
    json!({
        "content-type": "application/json; charset=utf-8",
        "stripe-signature": signature,
    })
}

fn signed_event(body: &str, signature: &str) -> Value {
    http_api_event("POST", headers(signature), body, Encoding::Text)
}

#[tokio::test]
async fn verification_reads_clock_once() {
    let counted = Counted::start().await;
    let body = event_body("evt_calibrate", "charge.succeeded");

    let (status, response, verifications) =
        counted.handle(&signed_event(&body, &sign(&body))).await;
    assert_eq!(status, 200, "{response}");
    assert_eq!(verifications, 1, "signed request");

    let forged = stripe_eventbridge::signature::signature_header(
        &["whsec_not_the_receivers"],
        NOW - 10,
        body.as_bytes(),
    );
    let (status, response, verifications) = counted.handle(&signed_event(&body, &forged)).await;
    assert_eq!(status, 400, "{response}");
    assert_eq!(response["error"], "no_matching_signature");
    assert_eq!(verifications, 1, "forged request");
}

#[tokio::test]
async fn oversized_header_skips_hmac() {
    let counted = Counted::start().await;
    let body = event_body("evt_long_header", "charge.succeeded");
    // A correct signature followed by ignored `v0` elements up to one byte
    // over the limit.
    let mut signature = sign(&body);
    while signature.len() <= MAX_HEADER_BYTES {
        signature.push_str(",v0=");
        signature.push_str(&"0".repeat(64));
    }
    signature.truncate(MAX_HEADER_BYTES + 1);

    let (status, response, verifications) = counted.handle(&signed_event(&body, &signature)).await;
    assert_eq!(status, 400, "{response}");
    assert_eq!(response["error"], "malformed_header");
    assert_eq!(
        verifications,
        0,
        "HMAC passes for a {} byte header",
        signature.len()
    );
    assert_eq!(counted.stub.request_count(), 0);
}

#[tokio::test]
async fn ten_thousand_v1_skip_hmac() {
    let counted = Counted::start().await;
    let body = event_body("evt_many_v1", "charge.succeeded");
    let correct = sign_v1(SECRET, NOW - 10, body.as_bytes());
    let mut signature = format!("t={},v1={correct}", NOW - 10);
    for i in 1..10_000u32 {
        signature.push_str(&format!(",v1={i:064x}"));
    }

    let (status, response, verifications) = counted.handle(&signed_event(&body, &signature)).await;
    assert_eq!(status, 400, "{response}");
    assert_eq!(response["error"], "malformed_header");
    assert_eq!(verifications, 0, "HMAC passes for 10000 v1 entries");
    assert_eq!(counted.stub.request_count(), 0);
}

#[tokio::test]
async fn v1_over_count_skips_hmac() {
    let counted = Counted::start().await;
    let body = event_body("evt_nine_v1", "charge.succeeded");
    let correct = sign_v1(SECRET, NOW - 10, body.as_bytes());
    let mut signature = format!("t={},v1={correct}", NOW - 10);
    for i in 1..=MAX_V1_SIGNATURES as u32 {
        signature.push_str(&format!(",v1={i:064x}"));
    }
    assert!(
        signature.len() <= MAX_HEADER_BYTES,
        "within the length limit"
    );

    let (status, response, verifications) = counted.handle(&signed_event(&body, &signature)).await;
    assert_eq!(status, 400, "{response}");
    assert_eq!(response["error"], "malformed_header");
    assert!(
        response["message"]
            .as_str()
            .is_some_and(|message| message.contains("v1 entries")),
        "{response}"
    );
    assert_eq!(
        verifications,
        0,
        "HMAC passes for {} v1 entries",
        MAX_V1_SIGNATURES + 1
    );
}

#[tokio::test]
async fn repeated_headers_skip_hmac() {
    let counted = Counted::start().await;
    let body = event_body("evt_repeated_header", "charge.succeeded");
    // A REST API event can carry one header name many times. The handler
    // joins the values and bounds them as one header.
    let values: Vec<String> = (0..1_000).map(|_| sign(&body)).collect();
    let event = rest_event(
        "POST",
        json!({ "content-type": "application/json" }),
        json!({ "Stripe-Signature": values }),
        &body,
        Encoding::Text,
    );

    let (status, response, verifications) = counted.handle(&event).await;
    assert_eq!(status, 400, "{response}");
    assert_eq!(response["error"], "malformed_header");
    assert_eq!(verifications, 0, "HMAC passes for 1000 headers");
}

#[tokio::test]
async fn oversized_body_skips_hmac() {
    let counted = Counted::start().await;
    for encoding in [Encoding::Text, Encoding::Base64] {
        // A valid event padded to one byte over the limit.
        let base = event_body("evt_large_body", "charge.succeeded");
        let object = base.strip_suffix('}').expect("a JSON object");
        let spaces = MAX_BODY_BYTES + 1 - base.len();
        let body = format!("{object}{}}}", " ".repeat(spaces));
        assert_eq!(body.len(), MAX_BODY_BYTES + 1);
        let event = http_api_event("POST", headers(&sign(&body)), &body, encoding);

        let (status, response, verifications) = counted.handle(&event).await;
        assert_eq!(status, 413, "{encoding:?}: {response}");
        assert_eq!(response["error"], "body_too_large", "{encoding:?}");
        assert_eq!(verifications, 0, "{encoding:?}: HMAC passes for the body");
    }
    assert_eq!(counted.stub.request_count(), 0);
}

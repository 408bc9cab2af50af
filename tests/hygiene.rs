//! Secret hygiene: every log line that a range of scenarios emits, at TRACE
//! level and from every crate (the AWS SDK included), is captured and
//! searched for the secret, the signatures and the body's content.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::json;
use stripe_eventbridge::signature::signature_header;
use support::stub::{Reply, StubEventBridge};
use support::{Encoding, NOW, SECRET, http_api_event, read, receiver, request};
use tracing_subscriber::fmt::MakeWriter;

/// Text that appears only inside request bodies.
const BODY_MARKER: &str = "bodymarker_9f27c1";

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

fn body(id: &str, event_type: &str, padding: usize) -> String {
    json!({
        "id": id,
        "object": "event",
        "created": NOW - 30,
        "type": event_type,
        "data": {"object": {"id": "cus_1", "object": "customer", "name": format!("{BODY_MARKER} 山田"), "pad": "z".repeat(padding)}},
        "livemode": false,
    })
    .to_string()
}

#[tokio::test]
async fn logs_never_contain_secrets_signatures_or_bodies() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(capture.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let stub = StubEventBridge::start(vec![
        Reply::Accept,
        Reply::Accept,
        Reply::FailEntry("AccessDeniedException"),
        Reply::Error(500, "InternalException"),
        Reply::Accept,
        Reply::FailEntry("ThrottlingException"),
    ])
    .await;
    let receiver = receiver(
        &stub.url(),
        &[
            ("FORWARD_TIMEOUT_MS", "300"),
            ("EVENTBRIDGE_MAX_ENTRY_BYTES", "4096"),
        ],
    )
    .await;

    let mut signatures = Vec::new();
    let mut send = |body: String, timestamp: u64, secret: &str| {
        let header = signature_header(&[secret], timestamp, body.as_bytes());
        signatures.push(header.split_once("v1=").unwrap().1.to_owned());
        http_api_event(
            "POST",
            json!({"stripe-signature": header}),
            &body,
            Encoding::Text,
        )
    };
    let scenarios = [
        (
            "accepted",
            send(body("evt_h1", "customer.created", 0), NOW, SECRET),
            200,
        ),
        (
            "oversize pointer",
            send(body("evt_h2", "customer.updated", 5000), NOW, SECRET),
            200,
        ),
        (
            "rejected entry",
            send(body("evt_h3", "customer.created", 0), NOW, SECRET),
            502,
        ),
        (
            "retried 5xx",
            send(body("evt_h4", "customer.created", 0), NOW, SECRET),
            200,
        ),
        (
            "throttled",
            send(body("evt_h5", "customer.created", 0), NOW, SECRET),
            503,
        ),
        (
            "wrong secret",
            send(body("evt_h6", "customer.created", 0), NOW, "whsec_not_ours"),
            400,
        ),
        (
            "stale",
            send(body("evt_h7", "customer.created", 0), NOW - 1000, SECRET),
            400,
        ),
        (
            "not json",
            send(format!("{BODY_MARKER} plain text"), NOW, SECRET),
            400,
        ),
    ];
    for (name, event, expected) in scenarios {
        let (status, response) = read(&receiver.handle(request(&event)).await);
        assert_eq!(status, expected, "{name}: {response}");
        let text = response.to_string();
        assert!(
            !text.contains(BODY_MARKER),
            "{name}: response quotes the body: {text}"
        );
        assert!(!text.contains(SECRET), "{name}: response has the secret");
    }
    drop(_guard);

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = logs.lines().collect();
    assert!(
        lines
            .iter()
            .filter(|line| line.contains("webhook handled"))
            .count()
            == 8,
        "one outcome line per request:\n{logs}"
    );
    for line in &lines {
        assert!(!line.contains(SECRET), "secret in log line: {line}");
        assert!(
            !line.contains("whsec_"),
            "a secret-like value in log line: {line}"
        );
        assert!(
            !line.contains(BODY_MARKER),
            "body content in log line: {line}"
        );
        for signature in &signatures {
            assert!(
                !line.contains(signature.as_str()),
                "signature in log line: {line}"
            );
        }
    }
}

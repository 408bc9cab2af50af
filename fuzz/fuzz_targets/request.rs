//! Fuzzes the whole request path: Lambda event JSON read as a
//! `WebhookRequest`, as the function reads it, into `Receiver::handle`,
//! which forwards to an EventBridge stub on 127.0.0.1 that accepts every
//! entry.
//!
//! Input: Lambda event JSON. When it starts with `!`, the rest is the event
//! and the target replaces its `Stripe-Signature` with a correct one for the
//! decoded body, so that mutated bodies reach the envelope and forwarding
//! steps. Otherwise the event is handled as it is. The events in `events/`
//! carry correct signatures for [`SECRET`] at [`NOW`]. Any panic is a
//! finding: reading the event and handling it must both be total.

#![no_main]

use std::sync::{Arc, OnceLock};

use aws_config::{BehaviorVersion, Region};
use aws_sdk_eventbridge::config::Credentials;
use base64::Engine;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use stripe_eventbridge::config::Config;
use stripe_eventbridge::handler::Receiver;
use stripe_eventbridge::metrics::MetricsSink;
use stripe_eventbridge::request::WebhookRequest;
use stripe_eventbridge::setup::build_receiver;
use stripe_eventbridge::signature::signature_header;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;

/// The signing secret of the local demo in `events/env.json`.
const SECRET: &str = "whsec_stripeeventbridge_local_demo_0123456789";

/// The receiver clock: the `t` of the signatures in `events/`.
const NOW: u64 = 1_767_225_600;

/// Receiver settings. The entry cap is the smallest allowed, so that bodies
/// over about 4 KiB, such as the `resign-large-invoice` seed, take the
/// pointer path, and the body limit is low enough for inputs to reach it.
/// The allowlist admits the source addresses of the samples in `events/` and
/// an IPv6 block, so mutated addresses reach both of its outcomes.
const VARS: [(&str, &str); 5] = [
    ("STRIPE_WEBHOOK_SECRET", SECRET),
    ("EVENT_BUS_NAME", "stripe"),
    ("EVENTBRIDGE_MAX_ENTRY_BYTES", "4096"),
    ("MAX_BODY_BYTES", "7168"),
    (
        "ALLOWED_SOURCE_CIDRS",
        "3.18.12.0/26,3.130.192.231,13.235.14.237,18.211.135.69,35.154.171.200,\
         52.15.183.38,54.88.130.119,54.88.130.237,54.187.174.169,54.187.205.235,\
         54.187.216.72,2600:1f18::/32",
    ),
];

struct Harness {
    runtime: Runtime,
    receiver: Receiver,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime starts");
        let receiver = runtime.block_on(build());
        Harness { runtime, receiver }
    })
}

async fn build() -> Receiver {
    let endpoint = start_stub().await;
    let sdk_config = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("fuzz", "fuzz", None, None, "fuzz"))
        .load()
        .await;
    let config = Config::from_lookup(|name| {
        VARS.iter()
            .find(|(var, _)| *var == name)
            .map(|(_, value)| (*value).to_owned())
    })
    .expect("valid fuzz configuration");
    build_receiver(&config, &sdk_config, MetricsSink::disabled())
        .await
        .expect("receiver builds")
        .with_clock(Arc::new(|| NOW))
}

/// Starts a PutEvents stub on a free port of 127.0.0.1 that accepts every
/// entry and keeps nothing, so long runs do not grow in memory.
async fn start_stub() -> String {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1");
    let address = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream));
        }
    });
    format!("http://{address}")
}

async fn serve(mut stream: TcpStream) {
    const REPLY: &str = r#"{"FailedEntryCount":0,"Entries":[{"EventId":"fuzz-stub"}]}"#;
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: {}\r\n\r\n{REPLY}",
        REPLY.len()
    );
    let mut buffer = Vec::new();
    loop {
        // Read one request: the head, then `Content-Length` bytes of body.
        let head_end = loop {
            if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            if !read_more(&mut stream, &mut buffer).await {
                return;
            }
        };
        let head = String::from_utf8_lossy(&buffer[..head_end]).to_ascii_lowercase();
        let body_len: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or(0);
        while buffer.len() < head_end + body_len {
            if !read_more(&mut stream, &mut buffer).await {
                return;
            }
        }
        buffer.drain(..head_end + body_len);
        if stream.write_all(response.as_bytes()).await.is_err() {
            return;
        }
    }
}

async fn read_more(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> bool {
    let mut chunk = [0u8; 16384];
    match stream.read(&mut chunk).await {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            buffer.extend_from_slice(&chunk[..n]);
            true
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let harness = harness();
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (resign, event) = match text.strip_prefix('!') {
        Some(event) => (true, event),
        None => (false, text),
    };

    let request = if resign {
        let Some(event) = resigned(event) else {
            return;
        };
        serde_json::from_str::<WebhookRequest>(&event)
    } else {
        serde_json::from_str::<WebhookRequest>(event)
    };
    let Ok(request) = request else {
        return;
    };

    let response = harness.runtime.block_on(harness.receiver.handle(request));
    let status = response.status();
    // The stub accepts every entry, so a server error is a finding too.
    assert!(
        [200, 400, 403, 405, 413].contains(&status),
        "unexpected status {status}: {:?}",
        response.body()
    );
    let body: Value = serde_json::from_str(response.body()).expect("response body is JSON");
    if status == 200 {
        assert_eq!(body["received"], Value::Bool(true), "{body}");
    } else {
        assert!(body["error"].is_string(), "{body}");
    }
});

/// Returns `event` with one correct `Stripe-Signature` for its decoded body
/// in `headers` and none in `multiValueHeaders`, or `None` when the event is
/// not a JSON object or its base64 body does not decode.
fn resigned(event: &str) -> Option<String> {
    let Ok(Value::Object(mut event)) = serde_json::from_str::<Value>(event) else {
        return None;
    };
    let body = match (event.get("body"), event.get("isBase64Encoded")) {
        (Some(Value::String(text)), Some(Value::Bool(true))) => {
            base64::engine::general_purpose::STANDARD.decode(text).ok()?
        }
        (Some(Value::String(text)), _) => text.clone().into_bytes(),
        _ => Vec::new(),
    };
    let header = Value::String(signature_header(&[SECRET], NOW, &body));
    if let Some(Value::Object(multi)) = event.get_mut("multiValueHeaders") {
        multi.retain(|name, _| !name.eq_ignore_ascii_case("stripe-signature"));
    }
    match event.get_mut("headers") {
        Some(Value::Object(headers)) => {
            headers.retain(|name, _| !name.eq_ignore_ascii_case("stripe-signature"));
            headers.insert("stripe-signature".to_owned(), header);
        }
        _ => {
            event.insert(
                "headers".to_owned(),
                serde_json::json!({ "stripe-signature": header }),
            );
        }
    }
    Some(Value::Object(event).to_string())
}

//! Fuzzes the whole request path: Lambda event JSON through
//! `lambda_http::request::from_str` into `Receiver::handle`, which forwards
//! to an EventBridge stub on 127.0.0.1 that accepts every entry.
//!
//! Input: Lambda event JSON. When it starts with `!`, the rest is the event
//! and the target replaces its `Stripe-Signature` with a correct one for the
//! decoded body, so that mutated bodies reach the envelope and forwarding
//! steps. Otherwise the event is handled as it is. The events in `events/`
//! carry correct signatures for [`SECRET`] at [`NOW`].
//!
//! `lambda_http` 1.3 panics while turning some events into a request, for
//! example on a body that is not base64 when `isBase64Encoded` is true. In
//! Lambda, `lambda_runtime` 1.5.0 catches that panic and fails only that
//! invocation, because its `CatchPanicService` (`src/layers/panic.rs`) wraps
//! the handler that does the conversion. The target does the same: such
//! inputs are skipped, the first panic at each site is printed to stderr,
//! and any panic inside `Receiver::handle` still aborts as a finding.

#![no_main]

use std::cell::Cell;
use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock};

use aws_config::{BehaviorVersion, Region};
use aws_sdk_eventbridge::config::Credentials;
use lambda_http::Body;
use lambda_http::http::HeaderValue;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use stripe_eventbridge::config::Config;
use stripe_eventbridge::handler::Receiver;
use stripe_eventbridge::metrics::MetricsSink;
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

thread_local! {
    /// Set while `lambda_http` converts the event, so the panic hook can
    /// tell its panics from the receiver's.
    static CONVERTING: Cell<bool> = const { Cell::new(false) };
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        install_panic_filter();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime starts");
        let receiver = runtime.block_on(build());
        Harness { runtime, receiver }
    })
}

/// Wraps the panic hook (libFuzzer's, which aborts) so that a panic raised
/// while `CONVERTING` is set unwinds to the `catch_unwind` below instead.
fn install_panic_filter() {
    let seen: Mutex<HashSet<String>> = Mutex::new(HashSet::new());
    let abort_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !CONVERTING.get() {
            abort_hook(info);
            return;
        }
        // Messages name the offending byte, so each panic site prints once.
        let site = info
            .location()
            .map(|location| format!("{}:{}", location.file(), location.line()));
        let mut seen = seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.insert(site.unwrap_or_default()) {
            eprintln!("skipped input: lambda_http panicked converting the event: {info}");
        }
    }));
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

    CONVERTING.set(true);
    let converted = std::panic::catch_unwind(|| lambda_http::request::from_str(event));
    CONVERTING.set(false);
    let Ok(Ok(mut request)) = converted else {
        return;
    };

    if resign {
        let body: &[u8] = match request.body() {
            Body::Text(text) => text.as_bytes(),
            Body::Binary(bytes) => bytes,
            _ => &[],
        };
        let header = signature_header(&[SECRET], NOW, body);
        let value = HeaderValue::from_str(&header).expect("a signature header is visible ASCII");
        request.headers_mut().insert("stripe-signature", value);
    }

    let response = harness.runtime.block_on(harness.receiver.handle(request));
    let status = response.status().as_u16();
    // The stub accepts every entry, so a server error is a finding too.
    assert!(
        [200, 400, 403, 405, 413].contains(&status),
        "unexpected status {status}: {:?}",
        response.body()
    );
    let Body::Text(body) = response.body() else {
        panic!("response body is not text: {:?}", response.body());
    };
    let body: Value = serde_json::from_str(body).expect("response body is JSON");
    if status == 200 {
        assert_eq!(body["received"], Value::Bool(true), "{body}");
    } else {
        assert!(body["error"].is_string(), "{body}");
    }
});

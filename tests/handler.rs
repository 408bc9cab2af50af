//! The handler fed real Lambda event JSON, forwarding to a scripted stub of
//! the EventBridge API on 127.0.0.1.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::stub::{Reply, StubEventBridge};
use support::{
    Encoding, NOW, SECRET, alb_event, event_body, function_url_event, http_api_event, read,
    receiver, receiver_with_metrics, request, rest_event, sign,
};

fn stripe_headers(signature: &str) -> Value {
    json!({
        "content-type": "application/json; charset=utf-8",
        "stripe-signature": signature,
        "user-agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        "x-amzn-trace-id": "Root=1-67891233-abcdef012345678912345678",
    })
}

#[tokio::test]
async fn http_api_text_and_base64_forward() {
    let stub = StubEventBridge::start(vec![Reply::Accept]).await;
    let receiver = receiver(&stub.url(), &[]).await;
    for encoding in [Encoding::Text, Encoding::Base64] {
        let body = event_body("evt_v2", "payment_intent.succeeded");
        let event = http_api_event("POST", stripe_headers(&sign(&body)), &body, encoding);
        let (status, response) = read(&receiver.handle(request(&event)).await);
        assert_eq!(status, 200, "{encoding:?}: {response}");
        assert_eq!(response["id"], "evt_v2", "{encoding:?}");
        assert!(
            response["eventbridge_event_id"]
                .as_str()
                .is_some_and(|id| id.starts_with("stub-")),
            "{response}"
        );
    }
    let requests = stub.requests();
    assert_eq!(requests.len(), 2);
    let entry = &requests[0]["Entries"][0];
    assert_eq!(entry["EventBusName"], "stripe");
    assert_eq!(entry["Source"], "stripe.com");
    assert_eq!(entry["DetailType"], "payment_intent.succeeded");
    assert_eq!(
        entry["Detail"],
        event_body("evt_v2", "payment_intent.succeeded")
    );
    assert_eq!(entry["Time"].as_f64(), Some((NOW - 60) as f64));
    assert_eq!(
        entry["TraceHeader"],
        "Root=1-67891233-abcdef012345678912345678"
    );
}

#[tokio::test]
async fn rest_and_function_url_forward() {
    let stub = StubEventBridge::start(vec![Reply::Accept]).await;
    let receiver = receiver(&stub.url(), &[]).await;
    let body = event_body("evt_rest", "charge.succeeded");
    let signature = sign(&body);
    let cases = [
        (
            "rest text, Stripe-Signature case",
            rest_event(
                "POST",
                json!({"Stripe-Signature": signature}),
                json!({"Stripe-Signature": [signature]}),
                &body,
                Encoding::Text,
            ),
        ),
        (
            "rest base64",
            rest_event(
                "POST",
                json!({"stripe-signature": signature}),
                json!({"stripe-signature": [signature]}),
                &body,
                Encoding::Base64,
            ),
        ),
        (
            "rest header only in multiValueHeaders",
            rest_event(
                "POST",
                json!({}),
                json!({"Stripe-Signature": [signature]}),
                &body,
                Encoding::Text,
            ),
        ),
        (
            "rest null maps",
            rest_event(
                "POST",
                json!({"stripe-signature": signature}),
                Value::Null,
                &body,
                Encoding::Text,
            ),
        ),
        (
            "function url text",
            function_url_event(stripe_headers(&signature), &body, Encoding::Text),
        ),
        (
            "function url base64",
            function_url_event(stripe_headers(&signature), &body, Encoding::Base64),
        ),
    ];
    for (name, event) in cases {
        let (status, response) = read(&receiver.handle(request(&event)).await);
        assert_eq!(status, 200, "{name}: {response}");
    }
    for entry in stub.requests() {
        assert_eq!(entry["Entries"][0]["Detail"], body);
    }
}

#[tokio::test]
async fn query_strings_do_not_matter() {
    let stub = StubEventBridge::start(vec![Reply::Accept]).await;
    let receiver = receiver(&stub.url(), &[]).await;
    let body = event_body("evt_q", "charge.succeeded");
    let mut event = http_api_event("POST", stripe_headers(&sign(&body)), &body, Encoding::Text);
    event["rawQueryString"] = json!("note=a%20b&q=%22quoted%22");
    event["queryStringParameters"] = json!({"note": "a b", "q": "\"quoted\""});
    let (status, response) = read(&receiver.handle(request(&event)).await);
    assert_eq!(status, 200, "{response}");

    let mut rest = rest_event(
        "POST",
        json!({"stripe-signature": sign(&body)}),
        Value::Null,
        &body,
        Encoding::Text,
    );
    rest["queryStringParameters"] = json!({"q": "\"a b\""});
    rest["multiValueQueryStringParameters"] = json!({"q": ["\"a b\""]});
    let (status, response) = read(&receiver.handle(request(&rest)).await);
    assert_eq!(status, 200, "{response}");
}

#[tokio::test]
async fn repeated_signature_headers_are_joined() {
    let stub = StubEventBridge::start(vec![Reply::Accept]).await;
    let receiver = receiver(&stub.url(), &[]).await;
    let body = event_body("evt_multi", "charge.succeeded");
    let signature = sign(&body);
    let (timestamp, v1) = signature.split_once(',').unwrap();
    let other = format!("v1={}", "0".repeat(64));
    // API Gateway puts the last value in `headers` and all of them in
    // `multiValueHeaders`. Here the last value alone contains no timestamp.
    for single in [json!({}), json!({"Stripe-Signature": v1})] {
        let event = rest_event(
            "POST",
            single.clone(),
            json!({"Stripe-Signature": [timestamp, other, v1]}),
            &body,
            Encoding::Text,
        );
        let (status, response) = read(&receiver.handle(request(&event)).await);
        assert_eq!(status, 200, "headers {single}: {response}");
    }
}

#[tokio::test]
async fn load_balancer_event_response_shape() {
    let stub = StubEventBridge::start(vec![Reply::Accept]).await;
    let receiver = receiver(&stub.url(), &[]).await;
    let body = event_body("evt_alb", "charge.succeeded");
    for multi_value in [false, true] {
        for encoding in [Encoding::Text, Encoding::Base64] {
            let event = alb_event(stripe_headers(&sign(&body)), &body, encoding, multi_value);
            let response = receiver.handle(request(&event)).await;
            let shape = serde_json::to_value(&response).unwrap();
            assert_eq!(shape["statusCode"], 200, "{shape}");
            assert_eq!(shape["statusDescription"], "200 OK");
            let headers = if multi_value {
                &shape["multiValueHeaders"]["content-type"][0]
            } else {
                &shape["headers"]["content-type"]
            };
            assert_eq!(headers, "application/json", "{shape}");
        }
    }
    assert_eq!(stub.request_count(), 4);
}

#[tokio::test]
async fn undecodable_base64_body_is_400() {
    let stub = StubEventBridge::start(vec![Reply::Accept]).await;
    let receiver = receiver(&stub.url(), &[]).await;
    let body = event_body("evt_b64", "charge.succeeded");
    let mut event = http_api_event("POST", stripe_headers(&sign(&body)), &body, Encoding::Text);
    event["isBase64Encoded"] = json!(true);
    for text in ["this is not base64!", "e30", "e30=\n", "€"] {
        event["body"] = json!(text);
        let (status, response) = read(&receiver.handle(request(&event)).await);
        assert_eq!(status, 400, "{text}: {response}");
        assert_eq!(response["error"], "body_not_base64", "{text}");
    }
    assert_eq!(stub.request_count(), 0);
}

#[tokio::test]
async fn base64_body_over_limit_is_413_before_decoding() {
    let stub = StubEventBridge::start(vec![Reply::Accept]).await;
    let receiver = receiver(&stub.url(), &[("MAX_BODY_BYTES", "1000")]).await;
    let mut event = http_api_event("POST", stripe_headers("t=1,v1=00"), "", Encoding::Text);
    event["isBase64Encoded"] = json!(true);
    // Not valid base64 either: the size check must come first.
    event["body"] = json!("!".repeat(1400));
    let (status, response) = read(&receiver.handle(request(&event)).await);
    assert_eq!(status, 413, "{response}");
    assert_eq!(response["error"], "body_too_large");
    // At the limit, a valid body decodes and goes on to the signature check.
    let padded = format!(r#"{{"pad":"{}"}}"#, "x".repeat(1000 - 10));
    let event = http_api_event(
        "POST",
        stripe_headers("t=1,v1=00"),
        &padded,
        Encoding::Base64,
    );
    let (status, response) = read(&receiver.handle(request(&event)).await);
    assert_eq!(status, 400, "{response}");
    assert_eq!(response["error"], "no_v1_signature", "{response}");
}

#[tokio::test]
async fn non_ascii_signature_header_is_400() {
    let stub = StubEventBridge::start(vec![Reply::Accept]).await;
    let receiver = receiver(&stub.url(), &[]).await;
    let body = event_body("evt_utf", "charge.succeeded");
    for header in [format!("{}é", sign(&body)), format!("{}\u{1}", sign(&body))] {
        let event = http_api_event("POST", stripe_headers(&header), &body, Encoding::Text);
        let (status, response) = read(&receiver.handle(request(&event)).await);
        assert_eq!(status, 400);
        assert_eq!(response["error"], "malformed_header", "{response}");
        assert_eq!(
            response["message"],
            "Stripe-Signature header is not visible ASCII"
        );
    }
}

#[tokio::test]
async fn get_is_405_with_allow() {
    let stub = StubEventBridge::start(vec![Reply::Accept]).await;
    let receiver = receiver(&stub.url(), &[]).await;
    let event = http_api_event("GET", json!({}), "", Encoding::Text);
    let mut event = event;
    event["body"] = Value::Null;
    let response = receiver.handle(request(&event)).await;
    assert_eq!(response.status(), 405);
    assert_eq!(response.header("allow"), Some("POST"));
    assert_eq!(stub.request_count(), 0);
}

#[tokio::test]
async fn empty_and_null_bodies_are_400() {
    let stub = StubEventBridge::start(vec![Reply::Accept]).await;
    let receiver = receiver(&stub.url(), &[]).await;
    let mut null_body = http_api_event("POST", stripe_headers(&sign("")), "", Encoding::Text);
    null_body["body"] = Value::Null;
    let empty = http_api_event("POST", stripe_headers(&sign("")), "", Encoding::Text);
    let mut rest_null = rest_event(
        "POST",
        json!({"stripe-signature": sign("")}),
        Value::Null,
        "",
        Encoding::Text,
    );
    rest_null["body"] = Value::Null;
    for (name, event) in [
        ("null body", null_body),
        ("empty body", empty),
        ("rest null body", rest_null),
    ] {
        let (status, response) = read(&receiver.handle(request(&event)).await);
        assert_eq!(status, 400, "{name}");
        assert_eq!(response["error"], "empty_body", "{name}");
    }
    assert_eq!(stub.request_count(), 0);
}

#[tokio::test]
async fn body_over_limit_is_413() {
    let stub = StubEventBridge::start(vec![Reply::Accept]).await;
    let receiver = receiver(&stub.url(), &[("MAX_BODY_BYTES", "1000")]).await;
    let body = format!(
        r#"{{"id":"evt_big","object":"event","type":"a","pad":"{}"}}"#,
        "x".repeat(1000)
    );
    let event = http_api_event("POST", stripe_headers("t=1,v1=00"), &body, Encoding::Text);
    let (status, response) = read(&receiver.handle(request(&event)).await);
    assert_eq!(status, 413);
    assert_eq!(response["error"], "body_too_large");
}

#[tokio::test]
async fn signature_failures_are_400_with_reason() {
    let stub = StubEventBridge::start(vec![Reply::Accept]).await;
    let receiver = receiver(&stub.url(), &[]).await;
    let body = event_body("evt_sig", "charge.succeeded");
    let stale =
        stripe_eventbridge::signature::signature_header(&[SECRET], NOW - 301, body.as_bytes());
    let wrong = stripe_eventbridge::signature::signature_header(
        &["whsec_someone_else"],
        NOW,
        body.as_bytes(),
    );
    let cases = [
        ("no header", json!({}), "missing_header"),
        (
            "stale",
            stripe_headers(&stale),
            "timestamp_outside_tolerance",
        ),
        (
            "wrong secret",
            stripe_headers(&wrong),
            "no_matching_signature",
        ),
        ("garbage", stripe_headers("hello"), "malformed_header"),
    ];
    for (name, headers, reason) in cases {
        let event = http_api_event("POST", headers, &body, Encoding::Text);
        let (status, response) = read(&receiver.handle(request(&event)).await);
        assert_eq!(status, 400, "{name}");
        assert_eq!(response["error"], reason, "{name}");
    }
    assert_eq!(stub.request_count(), 0, "nothing forwarded");
}

#[tokio::test]
async fn authentic_bad_payloads_are_400() {
    let stub = StubEventBridge::start(vec![Reply::Accept]).await;
    let receiver = receiver(&stub.url(), &[]).await;
    let cases = [
        (b"\xff\xfe not utf-8".to_vec(), "body_not_utf8"),
        (b"[1,2,3]".to_vec(), "body_not_object"),
        (b"{\"id\":".to_vec(), "body_not_json"),
        (
            br#"{"id":"evt_1","object":"charge","type":"a"}"#.to_vec(),
            "unsupported_object",
        ),
        (br#"{"object":"event","type":"a"}"#.to_vec(), "missing_id"),
    ];
    for (body, reason) in cases {
        let signature = stripe_eventbridge::signature::signature_header(&[SECRET], NOW, &body);
        let mut event = http_api_event("POST", stripe_headers(&signature), "", Encoding::Text);
        event["body"] = json!(base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            &body
        ));
        event["isBase64Encoded"] = json!(true);
        let (status, response) = read(&receiver.handle(request(&event)).await);
        assert_eq!(status, 400, "body {body:?}");
        assert_eq!(response["error"], reason, "body {body:?}");
    }
    assert_eq!(stub.request_count(), 0);
}

#[tokio::test]
async fn unicode_body_kept_byte_for_byte() {
    let stub = StubEventBridge::start(vec![Reply::Accept]).await;
    let receiver = receiver(&stub.url(), &[]).await;
    let body = r#"{"id":"evt_u","object":"event","type":"customer.created","created":1767225540,"data":{"object":{"id":"cus_1","object":"customer","name":"山田 太郎","description":"☕ 🎉 \u00e9"}}}"#;
    let event = http_api_event("POST", stripe_headers(&sign(body)), body, Encoding::Text);
    let (status, _) = read(&receiver.handle(request(&event)).await);
    assert_eq!(status, 200);
    let detail = stub.requests()[0]["Entries"][0]["Detail"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        detail, body,
        "detail must equal the body, escapes and emoji unchanged"
    );
}

#[tokio::test]
async fn oversize_event_sends_pointer() {
    let stub = StubEventBridge::start(vec![Reply::Accept]).await;
    let (receiver, metrics) = receiver_with_metrics(&stub.url(), &[]).await;
    let lines: Vec<Value> = (0..1000)
        .map(|i| json!({"id": format!("il_{i:04}"), "object": "line_item", "amount": 1000 + i, "currency": "usd", "description": format!("Seat licence {i} — 年間プラン"), "period": {"start": 1767225600, "end": 1798761600}, "metadata": {"seat": i.to_string(), "cost_centre": "CC-4711-platform-engineering"}, "tax_amounts": [{"amount": 100 + i, "inclusive": false, "tax_rate": "txr_1Tax"}]}))
        .collect();
    let body = json!({
        "id": "evt_big_invoice",
        "object": "event",
        "api_version": "2025-09-30.clover",
        "created": NOW - 5,
        "data": {"object": {"id": "in_1Big", "object": "invoice", "lines": {"object": "list", "data": lines}}},
        "livemode": true,
        "pending_webhooks": 1,
        "request": null,
        "type": "invoice.finalized",
        "account": "acct_1Conn"
    })
    .to_string();
    assert!(body.len() > 262_144, "fixture is {} bytes", body.len());
    let event = http_api_event("POST", stripe_headers(&sign(&body)), &body, Encoding::Text);
    let (status, response) = read(&receiver.handle(request(&event)).await);
    assert_eq!(status, 200, "{response}");

    let entry = stub.requests()[0]["Entries"][0].clone();
    assert_eq!(entry["DetailType"], "invoice.finalized");
    assert_eq!(entry["Source"], "stripe.com");
    assert_eq!(entry["Time"].as_f64(), Some((NOW - 5) as f64));
    let detail: Value = serde_json::from_str(entry["Detail"].as_str().unwrap()).unwrap();
    assert_eq!(detail["id"], "evt_big_invoice");
    assert_eq!(detail["account"], "acct_1Conn");
    assert_eq!(detail["livemode"], true);
    assert_eq!(detail["request"], Value::Null);
    assert_eq!(
        detail["data"],
        json!({"object": {"id": "in_1Big", "object": "invoice"}})
    );
    let marker = &detail["stripe_eventbridge"];
    assert_eq!(marker["truncated"], true);
    assert_eq!(marker["original_body_bytes"], body.len());
    assert_eq!(marker["original_entry_bytes"], 14 + 10 + 17 + body.len());
    assert!(entry["Detail"].as_str().unwrap().len() < 4096);

    let metrics = metrics.lock().unwrap();
    assert!(
        metrics[0].contains("\"OversizePointers\":1"),
        "{}",
        metrics[0]
    );
}

#[tokio::test]
async fn entry_cap_counts_source_type_and_time() {
    // A body that fits alone but not with the other counted fields.
    let stub = StubEventBridge::start(vec![Reply::Accept]).await;
    let receiver = receiver(&stub.url(), &[("EVENTBRIDGE_MAX_ENTRY_BYTES", "4096")]).await;
    let base = event_body("evt_edge", "charge.succeeded");
    let overhead = 14 + "stripe.com".len() + "charge.succeeded".len();
    let fits = pad_to(&base, 4096 - overhead);
    let over = pad_to(&base, 4096 - overhead + 1);
    for (body, truncated) in [(fits, false), (over, true)] {
        let event = http_api_event("POST", stripe_headers(&sign(&body)), &body, Encoding::Text);
        let (status, _) = read(&receiver.handle(request(&event)).await);
        assert_eq!(status, 200);
        let detail = stub.requests().last().unwrap()["Entries"][0]["Detail"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(detail != body, truncated, "body of {} bytes", body.len());
    }
}

/// Pads a JSON object body with a `pad` field to exactly `len` bytes.
fn pad_to(body: &str, len: usize) -> String {
    let stem = &body[..body.len() - 1];
    let filler = len - stem.len() - r#","pad":""}"#.len();
    format!(r#"{stem},"pad":"{}"}}"#, "p".repeat(filler))
}

#[tokio::test]
async fn internal_failure_then_success_is_200() {
    let stub = StubEventBridge::start(vec![
        Reply::FailEntry("InternalFailure"),
        Reply::FailEntry("ThrottlingException"),
        Reply::Accept,
    ])
    .await;
    let receiver = receiver(&stub.url(), &[]).await;
    let body = event_body("evt_retry", "charge.succeeded");
    let event = http_api_event("POST", stripe_headers(&sign(&body)), &body, Encoding::Text);
    let (status, response) = read(&receiver.handle(request(&event)).await);
    assert_eq!(status, 200, "{response}");
    assert_eq!(response["eventbridge_event_id"], "stub-3");
    assert_eq!(stub.request_count(), 3);
}

#[tokio::test]
async fn request_level_faults_are_retried() {
    for fault in [
        Reply::Error(400, "ThrottlingException"),
        Reply::Error(500, "InternalException"),
        Reply::Error(503, "ServiceUnavailable"),
        Reply::Reset,
    ] {
        let stub = StubEventBridge::start(vec![fault.clone(), Reply::Accept]).await;
        let receiver = receiver(&stub.url(), &[]).await;
        let body = event_body("evt_fault", "charge.succeeded");
        let event = http_api_event("POST", stripe_headers(&sign(&body)), &body, Encoding::Text);
        let (status, response) = read(&receiver.handle(request(&event)).await);
        assert_eq!(status, 200, "{fault:?}: {response}");
        assert_eq!(stub.request_count(), 2, "{fault:?}");
    }
}

#[tokio::test]
async fn endless_throttling_is_503_inside_deadline() {
    let stub = StubEventBridge::start(vec![Reply::FailEntry("ThrottlingException")]).await;
    let receiver = receiver(&stub.url(), &[("FORWARD_TIMEOUT_MS", "800")]).await;
    let body = event_body("evt_throttled", "charge.succeeded");
    let event = http_api_event("POST", stripe_headers(&sign(&body)), &body, Encoding::Text);
    let started = Instant::now();
    let (status, response) = read(&receiver.handle(request(&event)).await);
    let elapsed = started.elapsed();
    assert_eq!(status, 503, "{response}");
    assert_eq!(response["error"], "eventbridge_unavailable");
    assert!(
        response.get("message").is_none(),
        "5xx leaks nothing: {response}"
    );
    assert!(
        elapsed < Duration::from_millis(800 + 200),
        "took {elapsed:?}"
    );
    assert!(
        stub.request_count() >= 2,
        "retried {} times",
        stub.request_count()
    );
}

#[tokio::test]
async fn non_retryable_codes_are_502_at_once() {
    for fault in [
        Reply::FailEntry("AccessDeniedException"),
        Reply::FailEntry("MalformedDetail"),
        Reply::Error(400, "AccessDeniedException"),
        Reply::Error(400, "ValidationException"),
    ] {
        let stub = StubEventBridge::start(vec![fault.clone()]).await;
        let receiver = receiver(&stub.url(), &[]).await;
        let body = event_body("evt_denied", "charge.succeeded");
        let event = http_api_event("POST", stripe_headers(&sign(&body)), &body, Encoding::Text);
        let (status, response) = read(&receiver.handle(request(&event)).await);
        assert_eq!(status, 502, "{fault:?}: {response}");
        assert_eq!(response["error"], "eventbridge_rejected", "{fault:?}");
        assert_eq!(stub.request_count(), 1, "{fault:?} must not be retried");
    }
}

#[tokio::test]
async fn hanging_endpoint_is_503_before_deadline() {
    let stub = StubEventBridge::start(vec![Reply::Hang]).await;
    let receiver = receiver(&stub.url(), &[("FORWARD_TIMEOUT_MS", "600")]).await;
    let body = event_body("evt_hang", "charge.succeeded");
    let event = http_api_event("POST", stripe_headers(&sign(&body)), &body, Encoding::Text);
    let started = Instant::now();
    let (status, _) = read(&receiver.handle(request(&event)).await);
    let elapsed = started.elapsed();
    assert_eq!(status, 503);
    assert!(
        elapsed >= Duration::from_millis(550),
        "gave up early: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_millis(800),
        "outlasted the deadline: {elapsed:?}"
    );
}

#[tokio::test]
async fn client_is_reused_across_requests() {
    let stub = StubEventBridge::start(vec![Reply::Accept]).await;
    let receiver = receiver(&stub.url(), &[]).await;
    for i in 0..20 {
        let body = event_body(&format!("evt_reuse_{i}"), "charge.succeeded");
        let event = http_api_event("POST", stripe_headers(&sign(&body)), &body, Encoding::Text);
        let (status, _) = read(&receiver.handle(request(&event)).await);
        assert_eq!(status, 200);
    }
    assert_eq!(stub.request_count(), 20);
    assert_eq!(
        stub.connection_count(),
        1,
        "one connection for all requests"
    );
}

#[tokio::test]
async fn source_allowlist_rejects_before_work() {
    let stub = StubEventBridge::start(vec![Reply::Accept]).await;
    let receiver = receiver(&stub.url(), &[("ALLOWED_SOURCE_CIDRS", "3.18.12.0/24")]).await;
    let body = event_body("evt_ip", "charge.succeeded");
    let mut event = http_api_event("POST", stripe_headers(&sign(&body)), &body, Encoding::Text);
    let (status, _) = read(&receiver.handle(request(&event)).await);
    assert_eq!(status, 200, "3.18.12.63 is inside 3.18.12.0/24");
    event["requestContext"]["http"]["sourceIp"] = json!("198.51.100.7");
    let (status, response) = read(&receiver.handle(request(&event)).await);
    assert_eq!(status, 403);
    assert_eq!(response["error"], "source_not_allowed");
    assert_eq!(stub.request_count(), 1);
}

#[tokio::test]
async fn thin_and_connect_events_forward() {
    let stub = StubEventBridge::start(vec![Reply::Accept]).await;
    let receiver = receiver(&stub.url(), &[]).await;
    let thin = r#"{"id":"evt_test_65RkM","object":"v2.core.event","type":"v1.billing.meter.error_report_triggered","livemode":false,"created":"2025-12-31T23:59:41.482Z","context":"acct_1Thin","related_object":{"id":"mtr_1","type":"billing.meter","url":"/v1/billing/meters/mtr_1"},"reason":{"type":"request","request":{"id":"req_1","idempotency_key":null}}}"#;
    let event = http_api_event("POST", stripe_headers(&sign(thin)), thin, Encoding::Text);
    let (status, response) = read(&receiver.handle(request(&event)).await);
    assert_eq!(status, 200, "{response}");
    let entry = &stub.requests()[0]["Entries"][0];
    assert_eq!(
        entry["DetailType"],
        "v1.billing.meter.error_report_triggered"
    );
    assert_eq!(entry["Detail"], thin);
    assert_eq!(entry["Time"].as_f64(), Some(1_767_225_581.482));
}

#[tokio::test]
async fn unshrinkable_event_is_502_not_sent() {
    let stub = StubEventBridge::start(vec![Reply::Accept]).await;
    let receiver = receiver(&stub.url(), &[("EVENTBRIDGE_MAX_ENTRY_BYTES", "4096")]).await;
    let id = format!("evt_{}", "x".repeat(5000));
    let body = event_body(&id, "charge.succeeded");
    let event = http_api_event("POST", stripe_headers(&sign(&body)), &body, Encoding::Text);
    let (status, response) = read(&receiver.handle(request(&event)).await);
    assert_eq!(status, 502, "{response}");
    assert_eq!(response["error"], "event_too_large");
    assert_eq!(
        stub.request_count(),
        0,
        "an entry over the cap is never sent"
    );
}

//! Shared helpers for integration tests: AWS settings for a local endpoint,
//! a receiver built from environment-like variables, and Lambda event JSON
//! in the shapes API Gateway and Function URLs deliver.

#![allow(dead_code)]

pub mod stub;

use std::collections::HashMap;
use std::sync::Arc;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_eventbridge::config::Credentials;
use base64::Engine;
use serde_json::{Value, json};
use stripe_eventbridge::config::Config;
use stripe_eventbridge::handler::Receiver;
use stripe_eventbridge::metrics::MetricsSink;
use stripe_eventbridge::request::{WebhookRequest, WebhookResponse};
use stripe_eventbridge::setup::build_receiver;
use stripe_eventbridge::signature::signature_header;

/// Secret used by tests unless they say otherwise.
pub const SECRET: &str = "whsec_integration_test_0123456789";
/// Fixed receiver clock of the tests, Unix seconds.
pub const NOW: u64 = 1_767_225_600;

/// Returns AWS settings that send every call to `endpoint` with dummy
/// credentials, so no test can reach a real AWS account.
pub async fn sdk_config(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .load()
        .await
}

/// Builds a receiver the way the binary does, from variables on top of a
/// minimal base, with the fixed clock [`NOW`].
pub async fn receiver(endpoint: &str, vars: &[(&str, &str)]) -> Receiver {
    let (receiver, _) = receiver_with_metrics(endpoint, vars).await;
    receiver
}

/// Like [`receiver`], also returning the metric lines it writes.
pub async fn receiver_with_metrics(
    endpoint: &str,
    vars: &[(&str, &str)],
) -> (Receiver, Arc<std::sync::Mutex<Vec<String>>>) {
    let mut map: HashMap<String, String> = HashMap::from([
        ("STRIPE_WEBHOOK_SECRET".to_owned(), SECRET.to_owned()),
        ("EVENT_BUS_NAME".to_owned(), "stripe".to_owned()),
    ]);
    for (name, value) in vars {
        map.insert((*name).to_owned(), (*value).to_owned());
    }
    if map.contains_key("STRIPE_WEBHOOK_SECRET_ARN") {
        map.remove("STRIPE_WEBHOOK_SECRET");
    }
    let config = Config::from_lookup(|name| map.get(name).cloned()).expect("valid test config");
    let (metrics, lines) = MetricsSink::memory(&config.event_bus_name);
    let receiver = build_receiver(&config, &sdk_config(endpoint).await, metrics)
        .await
        .expect("receiver builds");
    (receiver.with_clock(Arc::new(|| NOW)), lines)
}

/// Signs `body` with [`SECRET`] at [`NOW`] minus ten seconds.
pub fn sign(body: &str) -> String {
    signature_header(&[SECRET], NOW - 10, body.as_bytes())
}

/// A minimal snapshot event body of `event_type` with id `id`.
pub fn event_body(id: &str, event_type: &str) -> String {
    json!({
        "id": id,
        "object": "event",
        "api_version": "2025-09-30.clover",
        "created": NOW - 60,
        "data": {"object": {"id": "pi_3Q", "object": "payment_intent", "amount": 2000, "currency": "usd"}},
        "livemode": false,
        "pending_webhooks": 1,
        "request": {"id": "req_1", "idempotency_key": "key-1"},
        "type": event_type,
    })
    .to_string()
}

/// How the body travels in the Lambda event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Text,
    Base64,
}

fn encode(body: &str, encoding: Encoding) -> (Value, bool) {
    match encoding {
        Encoding::Text => (Value::String(body.to_owned()), false),
        Encoding::Base64 => (
            Value::String(base64::engine::general_purpose::STANDARD.encode(body)),
            true,
        ),
    }
}

/// An HTTP API (payload 2.0) event as API Gateway delivers it.
pub fn http_api_event(method: &str, headers: Value, body: &str, encoding: Encoding) -> Value {
    let (body, is_base64) = encode(body, encoding);
    json!({
        "version": "2.0",
        "routeKey": format!("{method} /webhook"),
        "rawPath": "/webhook",
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abcdef1234",
            "domainName": "abcdef1234.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abcdef1234",
            "http": {
                "method": method,
                "path": "/webhook",
                "protocol": "HTTP/1.1",
                "sourceIp": "3.18.12.63",
                "userAgent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)"
            },
            "requestId": "Ab1Cd2Ef3Gh=",
            "routeKey": format!("{method} /webhook"),
            "stage": "$default",
            "time": "31/Dec/2025:23:59:50 +0000",
            "timeEpoch": 1_767_225_590_000u64
        },
        "body": body,
        "isBase64Encoded": is_base64,
    })
}

/// A Lambda Function URL event (payload 2.0 shape without a route).
pub fn function_url_event(headers: Value, body: &str, encoding: Encoding) -> Value {
    let (body, is_base64) = encode(body, encoding);
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/",
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "abcdefghijklmnopqrstuvwx",
            "domainName": "abcdefghijklmnopqrstuvwx.lambda-url.us-east-1.on.aws",
            "domainPrefix": "abcdefghijklmnopqrstuvwx",
            "http": {
                "method": "POST",
                "path": "/",
                "protocol": "HTTP/1.1",
                "sourceIp": "3.18.12.63",
                "userAgent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)"
            },
            "requestId": "f1e2d3c4-0000-1111-2222-333344445555",
            "routeKey": "$default",
            "stage": "$default",
            "time": "31/Dec/2025:23:59:50 +0000",
            "timeEpoch": 1_767_225_590_000u64
        },
        "body": body,
        "isBase64Encoded": is_base64,
    })
}

/// An API Gateway REST API (payload 1.0) proxy event.
pub fn rest_event(
    method: &str,
    headers: Value,
    multi_value_headers: Value,
    body: &str,
    encoding: Encoding,
) -> Value {
    let (body, is_base64) = encode(body, encoding);
    json!({
        "resource": "/webhook",
        "path": "/webhook",
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": multi_value_headers,
        "queryStringParameters": null,
        "multiValueQueryStringParameters": null,
        "pathParameters": null,
        "stageVariables": null,
        "requestContext": {
            "resourceId": "a1b2c3",
            "resourcePath": "/webhook",
            "httpMethod": method,
            "extendedRequestId": "Xyz=",
            "requestTime": "31/Dec/2025:23:59:50 +0000",
            "path": "/prod/webhook",
            "accountId": "123456789012",
            "protocol": "HTTP/1.1",
            "stage": "prod",
            "domainPrefix": "abcdef1234",
            "requestTimeEpoch": 1_767_225_590_000u64,
            "requestId": "c0ffee00-1111-2222-3333-444455556666",
            "identity": {"sourceIp": "3.18.12.63", "userAgent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)"},
            "domainName": "abcdef1234.execute-api.us-east-1.amazonaws.com",
            "apiId": "abcdef1234"
        },
        "body": body,
        "isBase64Encoded": is_base64,
    })
}

/// Builds an Application Load Balancer target group event. `multi_value`
/// selects the target group setting that sends `multiValueHeaders` only.
pub fn alb_event(headers: Value, body: &str, encoding: Encoding, multi_value: bool) -> Value {
    let (body, is_base64) = encode(body, encoding);
    let mut event = json!({
        "requestContext": {
            "elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/stripe/0123456789abcdef"}
        },
        "httpMethod": "POST",
        "path": "/webhook",
        "queryStringParameters": {},
        "body": body,
        "isBase64Encoded": is_base64,
    });
    if multi_value {
        let lists: serde_json::Map<String, Value> = headers
            .as_object()
            .expect("headers are an object")
            .iter()
            .map(|(name, value)| (name.clone(), json!([value])))
            .collect();
        event["multiValueHeaders"] = Value::Object(lists);
    } else {
        event["headers"] = headers;
    }
    event
}

/// Reads Lambda event JSON as the function does.
pub fn request(event: &Value) -> WebhookRequest {
    serde_json::from_str(&event.to_string()).expect("the receiver reads the event")
}

/// Returns a response's status and JSON body.
pub fn read(response: &WebhookResponse) -> (u16, Value) {
    let body = serde_json::from_str(response.body()).expect("JSON response");
    (response.status(), body)
}

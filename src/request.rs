//! Lambda events from API Gateway, Function URLs and Application Load
//! Balancers, read in one pass into the few fields the receiver uses, and
//! the response in the shape each of them expects.
//!
//! The receiver needs the method, the source address, the `Stripe-Signature`
//! and `X-Amzn-Trace-Id` headers and the body. Every other field of the event
//! is skipped while it is parsed, without being stored: no header map, no
//! query string and no copy of the body beyond the one the JSON string is
//! decoded into.

use std::fmt;
use std::marker::PhantomData;
use std::time::SystemTime;

use serde::de::{self, DeserializeOwned, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

/// The service that invoked the function, which sets the response shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Origin {
    /// API Gateway REST API, payload format 1.0.
    RestApi,
    /// API Gateway HTTP API or a Lambda Function URL, payload format 2.0.
    HttpApi,
    /// An Application Load Balancer target group.
    Alb,
}

/// One HTTP request, reduced to the fields the receiver reads.
#[derive(Debug, Clone)]
pub struct WebhookRequest {
    pub(crate) origin: Origin,
    pub(crate) method: String,
    pub(crate) source_ip: Option<String>,
    /// Values of every `Stripe-Signature` header, in the order received.
    pub(crate) signatures: Vec<String>,
    pub(crate) trace_header: Option<String>,
    pub(crate) body: Option<String>,
    pub(crate) is_base64: bool,
    /// The ALB target group has multi-value headers on, so the response
    /// must use `multiValueHeaders`.
    pub(crate) multi_value_response: bool,
    pub(crate) deadline: Option<SystemTime>,
}

impl WebhookRequest {
    /// Sets the time by which Lambda ends the invocation.
    pub fn with_deadline(mut self, deadline: SystemTime) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Returns the service the event came from.
    pub fn origin(&self) -> Origin {
        self.origin
    }

    /// Returns the HTTP method.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// Returns the values of the `Stripe-Signature` headers.
    pub fn signatures(&self) -> &[String] {
        &self.signatures
    }

    /// Returns the body as the event carries it: base64 text when
    /// [`is_base64`](Self::is_base64) is true.
    pub fn body(&self) -> Option<&str> {
        self.body.as_deref()
    }

    /// Returns whether the event marks the body as base64.
    pub fn is_base64(&self) -> bool {
        self.is_base64
    }
}

/// Header names the receiver reads; every other header is skipped.
enum HeaderName {
    Signature,
    TraceId,
    Other,
}

impl<'de> Deserialize<'de> for HeaderName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NameVisitor;
        impl Visitor<'_> for NameVisitor {
            type Value = HeaderName;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a header name")
            }
            fn visit_str<E: de::Error>(self, name: &str) -> Result<HeaderName, E> {
                Ok(if name.eq_ignore_ascii_case("stripe-signature") {
                    HeaderName::Signature
                } else if name.eq_ignore_ascii_case("x-amzn-trace-id") {
                    HeaderName::TraceId
                } else {
                    HeaderName::Other
                })
            }
        }
        deserializer.deserialize_str(NameVisitor)
    }
}

/// The headers the receiver reads, from one header map of the event.
#[derive(Default)]
struct Headers {
    signatures: Vec<String>,
    trace_header: Option<String>,
}

/// The value type of one header map: one text per name in `headers`, a list
/// of texts in `multiValueHeaders`. Either may be null.
trait HeaderValue: DeserializeOwned {
    /// Returns the texts of the value, in order.
    fn into_texts(self) -> impl Iterator<Item = String>;
}

impl HeaderValue for Option<String> {
    fn into_texts(self) -> impl Iterator<Item = String> {
        self.into_iter()
    }
}

impl HeaderValue for Option<Vec<Option<String>>> {
    fn into_texts(self) -> impl Iterator<Item = String> {
        self.into_iter().flatten().flatten()
    }
}

/// A header map of the event, or null, reduced to the headers the receiver
/// reads.
struct HeaderMap<V>(Headers, PhantomData<V>);

/// `headers`: name to text.
type SingleValue = HeaderMap<Option<String>>;

/// `multiValueHeaders`: name to a list of texts.
type MultiValue = HeaderMap<Option<Vec<Option<String>>>>;

impl<'de, V: HeaderValue> Deserialize<'de> for HeaderMap<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor<V>(PhantomData<V>);

        impl<'de, V: HeaderValue> Visitor<'de> for MapVisitor<V> {
            type Value = Headers;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of header names to values")
            }

            fn visit_unit<E>(self) -> Result<Headers, E> {
                Ok(Headers::default())
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Headers, A::Error> {
                let mut headers = Headers::default();
                while let Some(name) = map.next_key::<HeaderName>()? {
                    match name {
                        HeaderName::Signature => {
                            let value = map.next_value::<V>()?;
                            headers.signatures.extend(value.into_texts());
                        }
                        HeaderName::TraceId => {
                            let first = map.next_value::<V>()?.into_texts().next();
                            headers.trace_header = headers.trace_header.or(first);
                        }
                        HeaderName::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(headers)
            }
        }

        let headers = deserializer.deserialize_any(MapVisitor::<V>(PhantomData))?;
        Ok(HeaderMap(headers, PhantomData))
    }
}

/// `requestContext.http` of a payload 2.0 event.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct HttpContext {
    method: Option<String>,
    source_ip: Option<String>,
}

/// `requestContext.identity` of a REST API event.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Identity {
    source_ip: Option<String>,
}

/// The parts of `requestContext` the receiver reads.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RequestContext {
    http: Option<HttpContext>,
    identity: Option<Identity>,
    elb: Option<IgnoredAny>,
}

/// Top-level fields of the event; unknown ones are skipped by serde.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event {
    version: Option<String>,
    http_method: Option<String>,
    headers: Option<SingleValue>,
    multi_value_headers: Option<MultiValue>,
    request_context: Option<RequestContext>,
    body: Option<String>,
    is_base64_encoded: Option<bool>,
}

impl<'de> Deserialize<'de> for WebhookRequest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let event = Event::deserialize(deserializer)?;

        let context = event.request_context.unwrap_or_default();
        let (origin, method, source_ip) = match (context.elb, context.http) {
            (Some(_), _) => (Origin::Alb, event.http_method, None),
            (None, Some(http)) => (Origin::HttpApi, http.method, http.source_ip),
            (None, None) if event.version.as_deref() == Some("2.0") => {
                (Origin::HttpApi, None, None)
            }
            (None, None) => (
                Origin::RestApi,
                event.http_method,
                context.identity.and_then(|identity| identity.source_ip),
            ),
        };
        let method = method.ok_or_else(|| {
            de::Error::custom(
                "not an API Gateway, Function URL or load balancer event: it has no HTTP method",
            )
        })?;

        let single = event.headers.map(|map| map.0).unwrap_or_default();
        let multi = event.multi_value_headers.map(|map| map.0);
        let multi_value_response = origin == Origin::Alb && multi.is_some();
        let multi = multi.unwrap_or_default();
        // API Gateway fills both maps for REST APIs, `headers` with the last
        // value of each name only, so the multi-value map wins where it has
        // the name.
        let signatures = if multi.signatures.is_empty() {
            single.signatures
        } else {
            multi.signatures
        };
        Ok(Self {
            origin,
            method,
            source_ip,
            signatures,
            trace_header: multi.trace_header.or(single.trace_header),
            body: event.body,
            is_base64: event.is_base64_encoded.unwrap_or(false),
            multi_value_response,
            deadline: None,
        })
    }
}

/// The receiver's response to one request, serialised in the shape the
/// invoking service expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookResponse {
    origin: Origin,
    multi_value: bool,
    status: u16,
    allow: Option<&'static str>,
    body: String,
}

/// Type of every response body.
const CONTENT_TYPE: &str = "application/json";

impl WebhookResponse {
    /// Creates a JSON response to `request`.
    pub(crate) fn json(request: ResponseShape, status: u16, body: String) -> Self {
        Self {
            origin: request.origin,
            multi_value: request.multi_value,
            status,
            allow: None,
            body,
        }
    }

    /// Adds an `Allow` header.
    pub(crate) fn with_allow(mut self, methods: &'static str) -> Self {
        self.allow = Some(methods);
        self
    }

    /// Returns the HTTP status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Returns the response body, JSON text.
    pub fn body(&self) -> &str {
        &self.body
    }

    /// Returns the value of header `name`, compared without case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers()
            .find(|(header, _)| header.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    }

    fn headers(&self) -> impl Iterator<Item = (&'static str, &'static str)> {
        std::iter::once(("content-type", CONTENT_TYPE))
            .chain(self.allow.map(|methods| ("allow", methods)))
    }
}

/// What the response shape depends on, kept after the request is consumed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ResponseShape {
    origin: Origin,
    multi_value: bool,
}

impl From<&WebhookRequest> for ResponseShape {
    fn from(request: &WebhookRequest) -> Self {
        Self {
            origin: request.origin,
            multi_value: request.multi_value_response,
        }
    }
}

/// Serialises a header list as a single-value map.
struct SingleHeaders<'a>(&'a WebhookResponse);

impl Serialize for SingleHeaders<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (name, value) in self.0.headers() {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// Serialises a header list as a multi-value map.
struct MultiHeaders<'a>(&'a WebhookResponse);

impl Serialize for MultiHeaders<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (name, value) in self.0.headers() {
            map.serialize_entry(name, &[value])?;
        }
        map.end()
    }
}

impl Serialize for WebhookResponse {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("statusCode", &self.status)?;
        match self.origin {
            Origin::RestApi => {
                map.serialize_entry("headers", &SingleHeaders(self))?;
                map.serialize_entry("multiValueHeaders", &MultiHeaders(self))?;
            }
            Origin::HttpApi => {
                map.serialize_entry("headers", &SingleHeaders(self))?;
                // Optional for AWS, but `cargo lambda watch` 1.9 reads the
                // response as aws_lambda_events' type, where it is required.
                map.serialize_entry("cookies", &[] as &[&str])?;
            }
            Origin::Alb => {
                map.serialize_entry(
                    "statusDescription",
                    &format!("{} {}", self.status, reason_phrase(self.status)),
                )?;
                if self.multi_value {
                    map.serialize_entry("multiValueHeaders", &MultiHeaders(self))?;
                } else {
                    map.serialize_entry("headers", &SingleHeaders(self))?;
                }
            }
        }
        map.serialize_entry("body", &self.body)?;
        map.serialize_entry("isBase64Encoded", &false)?;
        map.end()
    }
}

/// Reason phrase of the status codes the receiver sends.
fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn read(event: Value) -> WebhookRequest {
        serde_json::from_value(event).expect("event reads")
    }

    #[test]
    fn http_api_event_reads_method_ip_and_headers() {
        let request = read(json!({
            "version": "2.0",
            "headers": {"Stripe-Signature": "t=1,v1=ab", "X-Amzn-Trace-Id": "Root=1", "other": "x"},
            "requestContext": {"http": {"method": "POST", "sourceIp": "3.18.12.63"}},
            "body": "{}",
            "isBase64Encoded": false
        }));
        assert_eq!(request.origin(), Origin::HttpApi);
        assert_eq!(request.method(), "POST");
        assert_eq!(request.source_ip.as_deref(), Some("3.18.12.63"));
        assert_eq!(request.signatures(), ["t=1,v1=ab"]);
        assert_eq!(request.trace_header.as_deref(), Some("Root=1"));
        assert_eq!(request.body.as_deref(), Some("{}"));
    }

    #[test]
    fn rest_event_multi_value_headers_win() {
        let request = read(json!({
            "httpMethod": "POST",
            "headers": {"stripe-signature": "v1=last"},
            "multiValueHeaders": {"Stripe-Signature": ["t=1", "v1=first", "v1=last"]},
            "requestContext": {"identity": {"sourceIp": "3.18.12.63"}},
            "body": null
        }));
        assert_eq!(request.origin(), Origin::RestApi);
        assert_eq!(request.signatures(), ["t=1", "v1=first", "v1=last"]);
        assert_eq!(request.source_ip.as_deref(), Some("3.18.12.63"));
        assert_eq!(request.body, None);
        assert!(!request.is_base64);
    }

    #[test]
    fn null_maps_and_values_are_absent() {
        let request = read(json!({
            "httpMethod": "GET",
            "headers": null,
            "multiValueHeaders": {"stripe-signature": null, "x-amzn-trace-id": [null]},
            "requestContext": null,
            "body": null,
            "isBase64Encoded": null
        }));
        assert!(request.signatures().is_empty());
        assert_eq!(request.trace_header, None);
        assert_eq!(request.source_ip, None);
    }

    #[test]
    fn event_without_a_method_is_an_error() {
        let error =
            serde_json::from_value::<WebhookRequest>(json!({"body": "{}"})).expect_err("no method");
        assert!(error.to_string().contains("no HTTP method"), "{error}");
        let error = serde_json::from_value::<WebhookRequest>(json!([1, 2])).expect_err("array");
        assert!(!error.to_string().is_empty());
    }

    #[test]
    fn responses_take_the_shape_of_their_origin() {
        let shape = |origin, multi_value| ResponseShape {
            origin,
            multi_value,
        };
        let rest = WebhookResponse::json(shape(Origin::RestApi, false), 405, "{}".into())
            .with_allow("POST");
        assert_eq!(
            serde_json::to_value(&rest).unwrap(),
            json!({
                "statusCode": 405,
                "headers": {"content-type": "application/json", "allow": "POST"},
                "multiValueHeaders": {"content-type": ["application/json"], "allow": ["POST"]},
                "body": "{}",
                "isBase64Encoded": false
            })
        );
        let http = WebhookResponse::json(shape(Origin::HttpApi, false), 200, "{}".into());
        assert_eq!(
            serde_json::to_value(&http).unwrap(),
            json!({
                "statusCode": 200,
                "headers": {"content-type": "application/json"},
                "cookies": [],
                "body": "{}",
                "isBase64Encoded": false
            })
        );
        let alb = WebhookResponse::json(shape(Origin::Alb, true), 503, "{}".into());
        assert_eq!(
            serde_json::to_value(&alb).unwrap(),
            json!({
                "statusCode": 503,
                "statusDescription": "503 Service Unavailable",
                "multiValueHeaders": {"content-type": ["application/json"]},
                "body": "{}",
                "isBase64Encoded": false
            })
        );
    }
}

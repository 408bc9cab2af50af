//! The Stripe event envelope: the few top-level fields the receiver needs.
//!
//! The body is parsed once, as raw JSON values, so that every field Stripe
//! adds and every API version passes unchanged; `data.object` is never
//! deserialized. Snapshot events have `"object": "event"` and `created` in
//! Unix seconds; thin (v2) events have `"object": "v2.core.event"` and
//! `created` as an RFC 3339 string.

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use serde::Deserialize;
use serde_json::value::RawValue;

/// Maximum length of an event type; EventBridge's `DetailType` limit.
pub const MAX_TYPE_CHARS: usize = 128;

/// The two event shapes Stripe delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A snapshot event (`"object": "event"`), carrying `data.object`.
    Snapshot,
    /// A thin event (`"object": "v2.core.event"`), carrying a reference.
    Thin,
}

impl EventKind {
    /// Returns the `object` value that marks this kind.
    pub fn object_name(self) -> &'static str {
        match self {
            Self::Snapshot => "event",
            Self::Thin => "v2.core.event",
        }
    }
}

/// The envelope fields of a Stripe event.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// Stripe event id (`evt_…`).
    pub id: String,
    /// Stripe event type, such as `charge.succeeded`.
    pub event_type: String,
    /// Snapshot or thin.
    pub kind: EventKind,
    /// `created`, when present and readable.
    pub created: Option<DateTime>,
    /// `livemode`, when present as a boolean.
    pub livemode: Option<bool>,
    /// The connected account: `account` on snapshot events, `context` on thin ones.
    pub account: Option<String>,
}

/// Reasons an authentic body is not a usable Stripe event.
///
/// Messages never quote the body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// The body is not valid UTF-8.
    #[error("body is not valid UTF-8 (first invalid byte at offset {offset})")]
    NotUtf8 {
        /// Offset of the first invalid byte.
        offset: usize,
    },
    /// The body is not valid JSON.
    #[error("body is not valid JSON ({category} error at line {line}, column {column})")]
    NotJson {
        /// `syntax`, `eof` or `data`.
        category: &'static str,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
    },
    /// The body is JSON but not an object.
    #[error("body is not a JSON object")]
    NotObject,
    /// `id` is absent.
    #[error("event has no id")]
    MissingId,
    /// `id` is not a non-empty string.
    #[error("event id is not a non-empty string")]
    InvalidId,
    /// `type` is absent.
    #[error("event has no type")]
    MissingType,
    /// `type` is not a string of 1 to 128 characters.
    #[error("event type is not a string of 1 to {MAX_TYPE_CHARS} characters")]
    InvalidType,
    /// `object` is absent or names another kind of object.
    #[error("event object is not \"event\" or \"v2.core.event\"")]
    UnsupportedObject,
}

impl EventError {
    /// Returns the short machine-readable reason sent in responses and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NotUtf8 { .. } => "body_not_utf8",
            Self::NotJson { .. } => "body_not_json",
            Self::NotObject => "body_not_object",
            Self::MissingId => "missing_id",
            Self::InvalidId => "invalid_id",
            Self::MissingType => "missing_type",
            Self::InvalidType => "invalid_type",
            Self::UnsupportedObject => "unsupported_object",
        }
    }
}

/// The top-level fields read from the body, each kept as raw JSON. A field
/// that is present is `Some`, even when its value is `null`.
#[derive(Deserialize)]
struct RawEnvelope<'a> {
    #[serde(borrow, default, deserialize_with = "present")]
    id: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    object: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present", rename = "type")]
    event_type: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    created: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    livemode: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    account: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    context: Option<&'a RawValue>,
}

/// Deserializes a present field as raw JSON, keeping `null` as a value.
fn present<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(deserializer).map(Some)
}

/// Checks that `body` is UTF-8 and returns it as text.
///
/// # Errors
///
/// Returns [`EventError::NotUtf8`] with the offset of the first invalid byte.
pub fn body_text(body: &[u8]) -> Result<&str, EventError> {
    match simdutf8::basic::from_utf8(body) {
        Ok(text) => Ok(text),
        Err(_) => Err(not_utf8(body)),
    }
}

/// Checks that `body` is UTF-8 and turns it into a `String` without a copy.
///
/// The check is simdutf8's, which is several times faster than the standard
/// library's on bodies with non-ASCII text. The standard library's check runs
/// only to find the offset of an invalid byte.
///
/// # Errors
///
/// Returns [`EventError::NotUtf8`] with the offset of the first invalid byte.
pub fn body_string(body: Vec<u8>) -> Result<String, EventError> {
    if simdutf8::basic::from_utf8(&body).is_err() {
        return Err(not_utf8(&body));
    }
    // SAFETY: simdutf8 has just checked that all of `body` is UTF-8.
    Ok(unsafe { String::from_utf8_unchecked(body) })
}

fn not_utf8(body: &[u8]) -> EventError {
    EventError::NotUtf8 {
        offset: std::str::from_utf8(body).map_or_else(|e| e.valid_up_to(), |text| text.len()),
    }
}

/// Parses the envelope of an event body, validating the whole body as JSON.
///
/// # Errors
///
/// Returns an [`EventError`] naming the first problem found.
pub fn parse_envelope(body: &str) -> Result<Envelope, EventError> {
    // serde's derived struct would also accept a JSON array, so check the
    // first significant byte before parsing.
    let first = body.bytes().find(|b| !b.is_ascii_whitespace());
    if first.is_some() && first != Some(b'{') {
        // Still report invalid JSON as such rather than as a non-object.
        serde_json::from_str::<serde::de::IgnoredAny>(body).map_err(json_error)?;
        return Err(EventError::NotObject);
    }
    let raw: RawEnvelope<'_> = serde_json::from_str(body).map_err(json_error)?;

    let kind = match raw.object.and_then(json_string).as_deref() {
        Some("event") => EventKind::Snapshot,
        Some("v2.core.event") => EventKind::Thin,
        _ => return Err(EventError::UnsupportedObject),
    };
    let id = match raw.id {
        None => return Err(EventError::MissingId),
        Some(value) => json_string(value)
            .filter(|id| !id.is_empty())
            .ok_or(EventError::InvalidId)?,
    };
    let event_type = match raw.event_type {
        None => return Err(EventError::MissingType),
        Some(value) => json_string(value)
            .filter(|t| (1..=MAX_TYPE_CHARS).contains(&t.chars().count()))
            .ok_or(EventError::InvalidType)?,
    };
    let created = raw.created.and_then(|value| parse_created(value, kind));
    let livemode = raw.livemode.and_then(|value| match value.get() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    });
    let account = match kind {
        EventKind::Snapshot => raw.account,
        EventKind::Thin => raw.context,
    }
    .and_then(json_string);

    Ok(Envelope {
        id,
        event_type,
        kind,
        created,
        livemode,
        account,
    })
}

/// Reads a raw JSON value as a string; `None` when it is not one.
fn json_string(value: &RawValue) -> Option<String> {
    serde_json::from_str(value.get()).ok()
}

/// Reads `created`: Unix seconds for snapshot events, RFC 3339 for thin ones.
fn parse_created(value: &RawValue, kind: EventKind) -> Option<DateTime> {
    match kind {
        EventKind::Snapshot => value.get().parse::<i64>().ok().map(DateTime::from_secs),
        EventKind::Thin => {
            let text = json_string(value)?;
            DateTime::from_str(&text, Format::DateTime).ok()
        }
    }
}

fn json_error(error: serde_json::Error) -> EventError {
    use serde_json::error::Category;
    let category = match error.classify() {
        Category::Io | Category::Syntax => "syntax",
        Category::Eof => "eof",
        Category::Data => "data",
    };
    EventError::NotJson {
        category,
        line: error.line(),
        column: error.column(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<Envelope, EventError> {
        parse_envelope(body)
    }

    #[test]
    fn snapshot_event_parses() {
        let body = r#"{"id":"evt_1","object":"event","api_version":"2025-09-30.clover","created":1767225540,"data":{"object":{"id":"ch_1","object":"charge","amount":100}},"livemode":false,"pending_webhooks":1,"request":{"id":"req_1","idempotency_key":"k"},"type":"charge.succeeded"}"#;
        let envelope = parse(body).unwrap();
        assert_eq!(envelope.id, "evt_1");
        assert_eq!(envelope.event_type, "charge.succeeded");
        assert_eq!(envelope.kind, EventKind::Snapshot);
        assert_eq!(envelope.created, Some(DateTime::from_secs(1_767_225_540)));
        assert_eq!(envelope.livemode, Some(false));
        assert_eq!(envelope.account, None);
    }

    #[test]
    fn connect_account_is_read() {
        let body = r#"{"id":"evt_1","object":"event","account":"acct_123","type":"charge.succeeded","created":1}"#;
        assert_eq!(parse(body).unwrap().account.as_deref(), Some("acct_123"));
    }

    #[test]
    fn thin_event_parses() {
        let body = r#"{"id":"evt_test_65R","object":"v2.core.event","type":"v1.billing.meter.error_report_triggered","created":"2026-12-01T10:15:30.123Z","livemode":true,"context":"acct_9","related_object":{"id":"mtr_1","type":"billing.meter","url":"/v1/billing/meters/mtr_1"}}"#;
        let envelope = parse(body).unwrap();
        assert_eq!(envelope.kind, EventKind::Thin);
        assert_eq!(envelope.account.as_deref(), Some("acct_9"));
        assert_eq!(envelope.livemode, Some(true));
        let created = envelope.created.unwrap();
        assert_eq!(created.secs(), 1_796_120_130);
        assert_eq!(created.subsec_nanos(), 123_000_000);
    }

    #[test]
    fn request_shapes_all_pass() {
        for request in [
            r#""req_legacy""#,
            "null",
            r#"{"id":null,"idempotency_key":null}"#,
        ] {
            let body = format!(
                r#"{{"id":"evt_1","object":"event","request":{request},"type":"a.b","api_version":null}}"#
            );
            assert!(parse(&body).is_ok(), "request {request}");
        }
    }

    #[test]
    fn unreadable_created_leaves_time_unset() {
        for created in [r#""yesterday""#, "1.5", "null", r#"{"s":1}"#] {
            let body = format!(r#"{{"id":"e","object":"event","type":"a","created":{created}}}"#);
            assert_eq!(parse(&body).unwrap().created, None, "created {created}");
        }
        let thin = r#"{"id":"e","object":"v2.core.event","type":"a","created":1767225540}"#;
        assert_eq!(parse(thin).unwrap().created, None);
    }

    #[test]
    fn rejects_each_bad_envelope() {
        let cases = [
            ("[1,2]", "body_not_object"),
            ("\"evt\"", "body_not_object"),
            ("{\"id\":", "body_not_json"),
            ("", "body_not_json"),
            ("{} {}", "body_not_json"),
            (r#"{"object":"event","type":"a"}"#, "missing_id"),
            (r#"{"id":"","object":"event","type":"a"}"#, "invalid_id"),
            (r#"{"id":7,"object":"event","type":"a"}"#, "invalid_id"),
            (r#"{"id":"e","object":"event"}"#, "missing_type"),
            (r#"{"id":"e","object":"event","type":""}"#, "invalid_type"),
            (r#"{"id":"e","object":"event","type":null}"#, "invalid_type"),
            (r#"{"id":"e","type":"a"}"#, "unsupported_object"),
            (
                r#"{"id":"e","object":"charge","type":"a"}"#,
                "unsupported_object",
            ),
            (
                r#"{"id":"e","id":"f","object":"event","type":"a"}"#,
                "body_not_json",
            ),
        ];
        for (body, reason) in cases {
            assert_eq!(
                parse(body).map_err(|e| e.reason()),
                Err(reason),
                "body {body}"
            );
        }
    }

    #[test]
    fn type_length_limit_counts_characters() {
        let at_limit = "é".repeat(MAX_TYPE_CHARS);
        let body = format!(r#"{{"id":"e","object":"event","type":"{at_limit}"}}"#);
        assert!(parse(&body).is_ok());
        let over = "a".repeat(MAX_TYPE_CHARS + 1);
        let body = format!(r#"{{"id":"e","object":"event","type":"{over}"}}"#);
        assert_eq!(parse(&body), Err(EventError::InvalidType));
    }

    #[test]
    fn escaped_strings_are_decoded() {
        let body = r#"{"id":"evt_\u0031","object":"ev\u0065nt","type":"a.b"}"#;
        assert_eq!(parse(body).unwrap().id, "evt_1");
    }

    #[test]
    fn non_utf8_reports_offset() {
        assert_eq!(
            body_text(b"{\"a\":\"\xff\"}"),
            Err(EventError::NotUtf8 { offset: 6 })
        );
    }

    #[test]
    fn error_messages_do_not_quote_body() {
        let body = r#"{"id":"e","object":"secret_marker_xyz","type":"a"}"#;
        let message = parse(body).unwrap_err().to_string();
        assert!(!message.contains("secret_marker_xyz"), "{message}");
        let message = parse(r#"{"secret_marker_xyz"#).unwrap_err().to_string();
        assert!(!message.contains("secret_marker_xyz"), "{message}");
    }
}

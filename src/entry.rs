//! The PutEvents entry built from one Stripe event, its size as EventBridge
//! counts it, and the pointer entry sent in place of an oversize event.
//!
//! EventBridge counts an entry as 14 bytes when `Time` is set, plus the UTF-8
//! byte lengths of `Source`, `DetailType`, `Detail` and each `Resources` item
//! (EventBridge user guide, "Calculating PutEvents event entry size").

use aws_smithy_types::DateTime;
use serde::Deserialize;
use serde::de::{MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::event::Envelope;

/// Bytes EventBridge adds to an entry's size when `Time` is set.
const TIME_BYTES: usize = 14;

/// Name of the top-level `detail` field that marks a pointer entry.
///
/// Select pointer entries with the rule pattern
/// `{"detail": {"stripe_eventbridge": {"truncated": [true]}}}`.
pub const MARKER_FIELD: &str = "stripe_eventbridge";

/// An entry ready for PutEvents, without the bus name.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// `Source`.
    pub source: String,
    /// `DetailType`: the Stripe event type.
    pub detail_type: String,
    /// `Detail`: the request body as received, or a pointer object.
    pub detail: String,
    /// `Time`: the event's `created`, when readable.
    pub time: Option<DateTime>,
    /// `TraceHeader`: the request's X-Ray trace header, when present.
    pub trace_header: Option<String>,
}

impl Entry {
    /// Builds the entry for an event: `detail` is the body, unchanged.
    pub fn new(
        source: &str,
        envelope: &Envelope,
        body: String,
        trace_header: Option<String>,
    ) -> Self {
        Self {
            source: source.to_owned(),
            detail_type: envelope.event_type.clone(),
            detail: body,
            time: envelope.created,
            trace_header,
        }
    }

    /// Returns the entry's size as EventBridge counts it.
    pub fn size(&self) -> usize {
        entry_size(
            &self.source,
            &self.detail_type,
            &self.detail,
            self.time.is_some(),
        )
    }
}

/// Computes an entry's size as EventBridge counts it (no `Resources`).
pub fn entry_size(source: &str, detail_type: &str, detail: &str, has_time: bool) -> usize {
    let time = if has_time { TIME_BYTES } else { 0 };
    time + source.len() + detail_type.len() + detail.len()
}

/// Location of the full event in S3, when a claim-check bucket is configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimCheck {
    /// S3 bucket name.
    pub bucket: String,
    /// S3 object key.
    pub key: String,
    /// Size of the stored object in bytes.
    pub bytes: usize,
    /// Lowercase hex SHA-256 of the stored object.
    pub sha256: String,
}

/// Facts about the original event that a pointer entry records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncation {
    /// Size of the entry that was not sent.
    pub original_entry_bytes: usize,
    /// Size of the request body.
    pub original_body_bytes: usize,
    /// The cap it exceeded.
    pub max_entry_bytes: usize,
    /// Location of the whole event, if it was stored.
    pub claim_check: Option<ClaimCheck>,
}

/// Top-level fields of an event body in their original order, values raw.
struct TopLevel<'a>(Vec<(String, &'a RawValue)>);

impl<'de> Deserialize<'de> for TopLevel<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldsVisitor;

        impl<'de> Visitor<'de> for FieldsVisitor {
            type Value = TopLevel<'de>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut fields = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, &'de RawValue>()? {
                    fields.push((key, value));
                }
                Ok(TopLevel(fields))
            }
        }

        deserializer.deserialize_map(FieldsVisitor)
    }
}

/// `data` of a snapshot event, reduced to `data.object`.
#[derive(Deserialize)]
struct DataField<'a> {
    #[serde(borrow)]
    object: Option<&'a RawValue>,
}

/// `data.object`, reduced to its `id` and `object`.
#[derive(Deserialize)]
struct ObjectRef<'a> {
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    #[serde(borrow)]
    object: Option<&'a RawValue>,
}

/// Envelope fields kept when the full envelope is itself too large.
const ESSENTIAL_FIELDS: [&str; 7] = [
    "id", "object", "type", "created", "livemode", "account", "context",
];

/// Fields of the smallest pointer, without the `data.object` reference.
const MINIMAL_FIELDS: [&str; 3] = ["id", "object", "type"];

/// Builds the `detail` of a pointer entry for an oversize event.
///
/// The detail keeps every top-level field of the event except `data`, then
/// `data.object.id` and `data.object.object`, then the marker object. When
/// that is still over `max_detail_bytes`, only the essential envelope fields
/// are kept, and then only `id`, `object` and `type` without the `data`
/// reference. Raw values are copied as sent, never re-serialized.
///
/// The result can still exceed `max_detail_bytes` when `id` or `type` alone
/// is that large; the caller must check its size.
///
/// The body must already have passed [`crate::event::parse_envelope`].
pub fn pointer_detail(body: &str, truncation: &Truncation, max_detail_bytes: usize) -> String {
    // The body is known to be a JSON object, so this parse cannot fail; an
    // empty field list still yields a valid pointer.
    let fields = serde_json::from_str::<TopLevel<'_>>(body)
        .map(|top| top.0)
        .unwrap_or_default();

    let full = write_pointer(&fields, truncation, true, |_| true);
    if full.len() <= max_detail_bytes {
        return full;
    }
    let essential = write_pointer(&fields, truncation, true, |key| {
        ESSENTIAL_FIELDS.contains(&key)
    });
    if essential.len() <= max_detail_bytes {
        return essential;
    }
    write_pointer(&fields, truncation, false, |key| {
        MINIMAL_FIELDS.contains(&key)
    })
}

fn write_pointer(
    fields: &[(String, &RawValue)],
    truncation: &Truncation,
    keep_data_ref: bool,
    keep: impl Fn(&str) -> bool,
) -> String {
    let mut out = String::with_capacity(1024);
    out.push('{');
    let mut data_ref: Option<ObjectRef<'_>> = None;
    for (key, value) in fields {
        if key == "data" {
            if !keep_data_ref {
                continue;
            }
            data_ref = serde_json::from_str::<DataField<'_>>(value.get())
                .ok()
                .and_then(|data| data.object)
                .and_then(|object| serde_json::from_str::<ObjectRef<'_>>(object.get()).ok());
            continue;
        }
        if key == MARKER_FIELD || !keep(key) {
            continue;
        }
        push_key(&mut out, key);
        out.push_str(value.get());
        out.push(',');
    }

    if let Some(object) = data_ref {
        out.push_str(r#""data":{"object":{"#);
        let mut first = true;
        for (name, value) in [("id", object.id), ("object", object.object)] {
            if let Some(value) = value {
                if !first {
                    out.push(',');
                }
                first = false;
                push_key(&mut out, name);
                out.push_str(value.get());
            }
        }
        out.push_str("}},");
    }

    push_key(&mut out, MARKER_FIELD);
    out.push_str(&marker_json(truncation));
    out.push('}');
    out
}

fn push_key(out: &mut String, key: &str) {
    // Serializing a &str to JSON cannot fail.
    out.push_str(&serde_json::to_string(key).expect("a string serializes"));
    out.push(':');
}

/// Builds the marker object that identifies a pointer entry to consumers.
fn marker_json(truncation: &Truncation) -> String {
    let mut marker = serde_json::json!({
        "truncated": true,
        "reason": "entry_too_large",
        "original_entry_bytes": truncation.original_entry_bytes,
        "original_body_bytes": truncation.original_body_bytes,
        "max_entry_bytes": truncation.max_entry_bytes,
    });
    if let Some(claim) = &truncation.claim_check {
        marker["claim_check"] = serde_json::json!({
            "bucket": claim.bucket,
            "key": claim.key,
            "bytes": claim.bytes,
            "sha256": claim.sha256,
        });
    }
    marker.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::parse_envelope;
    use serde_json::Value;

    fn truncation() -> Truncation {
        Truncation {
            original_entry_bytes: 300_000,
            original_body_bytes: 299_950,
            max_entry_bytes: 262_144,
            claim_check: None,
        }
    }

    #[test]
    fn size_counts_utf8_bytes() {
        assert_eq!(entry_size("stripe.com", "a.b", "{}", false), 10 + 3 + 2);
        assert_eq!(entry_size("stripe.com", "a.b", "{}", true), 14 + 15);
        // "é" is 2 bytes and "😀" is 4 bytes in UTF-8.
        assert_eq!(entry_size("s", "t", r#"{"n":"é😀"}"#, false), 1 + 1 + 14);
    }

    #[test]
    fn entry_keeps_body_bytes() {
        let body = r#"{"id":"evt_1","object":"event","type":"customer.created","created":5,"data":{"object":{"name":"山田 太郎 😀"}}}"#;
        let envelope = parse_envelope(body).unwrap();
        let entry = Entry::new("stripe.com", &envelope, body.to_owned(), None);
        assert_eq!(entry.detail, body);
        assert_eq!(entry.size(), 14 + 10 + 16 + body.len());
    }

    #[test]
    fn pointer_keeps_envelope_and_object_ref() {
        let body = r#"{"id":"evt_1","object":"event","api_version":"2025-09-30.clover","created":1767225540,"data":{"object":{"id":"in_1","object":"invoice","lines":{"data":[1,2,3]}},"previous_attributes":{"x":1}},"livemode":false,"pending_webhooks":2,"request":{"id":null,"idempotency_key":null},"type":"invoice.created","account":"acct_1"}"#;
        let detail = pointer_detail(body, &truncation(), 262_144);
        let value: Value = serde_json::from_str(&detail).unwrap();
        let original: Value = serde_json::from_str(body).unwrap();
        for key in [
            "id",
            "object",
            "api_version",
            "created",
            "livemode",
            "pending_webhooks",
            "request",
            "type",
            "account",
        ] {
            assert_eq!(value[key], original[key], "field {key}");
        }
        assert_eq!(
            value["data"],
            serde_json::json!({"object": {"id": "in_1", "object": "invoice"}})
        );
        let marker = &value[MARKER_FIELD];
        assert_eq!(marker["truncated"], true);
        assert_eq!(marker["original_entry_bytes"], 300_000);
        assert_eq!(marker["original_body_bytes"], 299_950);
        assert_eq!(marker["max_entry_bytes"], 262_144);
        assert!(marker.get("claim_check").is_none());
    }

    #[test]
    fn pointer_of_thin_event_has_no_data() {
        let body = r#"{"id":"evt_2","object":"v2.core.event","type":"v1.billing.meter.error_report_triggered","created":"2026-01-01T00:00:00Z","related_object":{"id":"mtr_1"}}"#;
        let value: Value =
            serde_json::from_str(&pointer_detail(body, &truncation(), 262_144)).unwrap();
        assert!(value.get("data").is_none());
        assert_eq!(value["related_object"]["id"], "mtr_1");
    }

    #[test]
    fn oversized_envelope_falls_back_to_essentials() {
        let huge = "x".repeat(10_000);
        let body = format!(
            r#"{{"id":"evt_3","object":"event","type":"a.b","created":1,"livemode":true,"future_field":"{huge}","data":{{"object":{{"id":"o_1","object":"thing"}}}}}}"#
        );
        let detail = pointer_detail(&body, &truncation(), 4096);
        assert!(detail.len() < 4096, "pointer is {} bytes", detail.len());
        let value: Value = serde_json::from_str(&detail).unwrap();
        assert!(value.get("future_field").is_none());
        assert_eq!(value["id"], "evt_3");
        assert_eq!(value["data"]["object"]["id"], "o_1");
        assert_eq!(value[MARKER_FIELD]["truncated"], true);
    }

    #[test]
    fn large_essentials_fall_back_to_minimal() {
        let account = format!("acct_{}", "a".repeat(5000));
        let object_id = format!("ch_{}", "b".repeat(5000));
        let body = format!(
            r#"{{"id":"evt_1","object":"event","type":"charge.succeeded","created":1,"account":"{account}","data":{{"object":{{"id":"{object_id}","object":"charge"}}}}}}"#
        );
        let detail = pointer_detail(&body, &truncation(), 4056);
        assert!(detail.len() <= 4056, "pointer is {} bytes", detail.len());
        let value: Value = serde_json::from_str(&detail).unwrap();
        assert_eq!(value["id"], "evt_1");
        assert_eq!(value["type"], "charge.succeeded");
        assert!(value.get("account").is_none());
        assert!(value.get("data").is_none());
        assert_eq!(value[MARKER_FIELD]["truncated"], true);
    }

    #[test]
    fn pointer_carries_claim_check() {
        let mut truncation = truncation();
        truncation.claim_check = Some(ClaimCheck {
            bucket: "b".into(),
            key: "events/evt_1.json".into(),
            bytes: 299_950,
            sha256: "ab".repeat(32),
        });
        let body = r#"{"id":"evt_1","object":"event","type":"a"}"#;
        let value: Value =
            serde_json::from_str(&pointer_detail(body, &truncation, 262_144)).unwrap();
        let claim = &value[MARKER_FIELD]["claim_check"];
        assert_eq!(claim["bucket"], "b");
        assert_eq!(claim["key"], "events/evt_1.json");
        assert_eq!(claim["bytes"], 299_950);
        assert_eq!(claim["sha256"], "ab".repeat(32));
    }
}

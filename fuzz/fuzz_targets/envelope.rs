//! Fuzzes envelope parsing, entry sizing and pointer building.
//!
//! Input: a raw request body, as it is after the signature check.

#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use serde_json::value::RawValue;
use stripe_eventbridge::claim_check::object_key;
use stripe_eventbridge::entry::{ClaimCheck, Entry, MARKER_FIELD, Truncation, pointer_detail};
use stripe_eventbridge::event::{MAX_TYPE_CHARS, body_text, parse_envelope};

/// Fields that the smallest pointer keeps whole.
const ESSENTIAL_FIELDS: [&str; 7] = [
    "id", "object", "type", "created", "livemode", "account", "context",
];

/// Essential-field bytes under which a pointer must fit a 4096-byte limit:
/// the marker, the claim check and the keys take well under 2 KiB more.
const SMALL_ESSENTIALS_BYTES: usize = 2048;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = body_text(data) else {
        return;
    };
    let envelope = match parse_envelope(body) {
        Ok(envelope) => envelope,
        Err(error) => {
            let _ = (error.to_string(), error.reason());
            return;
        }
    };
    assert!(!envelope.id.is_empty());
    assert!((1..=MAX_TYPE_CHARS).contains(&envelope.event_type.chars().count()));

    let entry = Entry::new("stripe.com", &envelope, body.to_owned(), None);
    let time_bytes = if envelope.created.is_some() { 14 } else { 0 };
    assert_eq!(
        entry.size(),
        time_bytes + "stripe.com".len() + envelope.event_type.len() + body.len()
    );

    let small_essentials = essential_bytes(body) <= SMALL_ESSENTIALS_BYTES;
    for (limit, claim_check) in [(4096, false), (4096, true), (entry.size() / 2, true)] {
        let truncation = Truncation {
            original_entry_bytes: entry.size(),
            original_body_bytes: body.len(),
            max_entry_bytes: limit,
            claim_check: claim_check.then(|| ClaimCheck {
                bucket: "stripe-eventbridge-claim-checks".to_owned(),
                key: object_key(&envelope.id),
                bytes: body.len(),
                sha256: "0".repeat(64),
            }),
        };
        let detail = pointer_detail(body, &truncation, limit);
        // Raw values are copied as sent, and JSON allows numbers that
        // `serde_json::Value` cannot hold, such as 1e400. So the pointer is
        // checked as raw JSON, field by field.
        serde_json::from_str::<&RawValue>(&detail).expect("pointer is JSON");
        let pointer: HashMap<String, &RawValue> =
            serde_json::from_str(&detail).expect("pointer is a JSON object");
        assert_eq!(string_field(&pointer, "id"), Some(envelope.id.clone()));
        assert_eq!(
            string_field(&pointer, "type"),
            Some(envelope.event_type.clone())
        );
        let marker: Value = serde_json::from_str(pointer[MARKER_FIELD].get()).expect("marker");
        assert_eq!(marker["truncated"], Value::Bool(true));

        let full = pointer_detail(body, &truncation, usize::MAX);
        if full.len() <= limit {
            assert_eq!(detail, full, "a pointer that fits dropped fields");
        }
        // The size limit holds unless `id` or `type` alone is that large; the
        // handler rejects those events with `event_too_large`.
        if limit >= 4096 && small_essentials {
            assert!(detail.len() <= limit, "pointer is {} bytes", detail.len());
        }
    }
});

/// Reads a top-level field of a pointer as a string.
fn string_field(pointer: &HashMap<String, &RawValue>, name: &str) -> Option<String> {
    serde_json::from_str(pointer.get(name)?.get()).ok()
}

/// Returns the raw size of the fields the smallest pointer keeps whole: the
/// essential fields and `data.object.id` and `data.object.object`. An
/// unexpected `data.object` shape counts in full.
fn essential_bytes(body: &str) -> usize {
    let Ok(fields) = serde_json::from_str::<HashMap<String, &RawValue>>(body) else {
        return usize::MAX;
    };
    let mut total: usize = ESSENTIAL_FIELDS
        .iter()
        .filter_map(|name| fields.get(*name))
        .map(|value| value.get().len())
        .sum();
    let Some(data) = fields.get("data") else {
        return total;
    };
    // serde also reads a struct from a JSON array, so any shape other than
    // an object counts in full.
    let Ok(data) = serde_json::from_str::<HashMap<String, &RawValue>>(data.get()) else {
        return total + data.get().len();
    };
    if let Some(object) = data.get("object") {
        match serde_json::from_str::<HashMap<String, &RawValue>>(object.get()) {
            Ok(object) => {
                total += ["id", "object"]
                    .iter()
                    .filter_map(|name| object.get(*name))
                    .map(|value| value.get().len())
                    .sum::<usize>();
            }
            Err(_) => total += object.get().len(),
        }
    }
    total
}

//! Property tests of the pure parts of the receiver: signing and verifying,
//! header and envelope parsing, entry sizes and pointer entries.
//!
//! Each property runs [`DEFAULT_CASES`] generated cases, so the whole file
//! takes a few seconds. Set `PROPTEST_CASES` for a longer run, for example
//! `PROPTEST_CASES=20000 cargo test --test properties`.

use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{Map, Value, json};
use stripe_eventbridge::claim_check::object_key;
use stripe_eventbridge::config::WebhookSecret;
use stripe_eventbridge::entry::{
    ClaimCheck, Entry, MARKER_FIELD, Truncation, entry_size, pointer_detail,
};
use stripe_eventbridge::event::{
    EventError, EventKind, MAX_TYPE_CHARS, body_string, body_text, parse_envelope,
};
use stripe_eventbridge::signature::{
    MAX_HEADER_BYTES, MAX_V1_SIGNATURES, SignatureError, Verification, parse_header,
    signature_header, verify,
};

/// Cases per property unless `PROPTEST_CASES` sets another number.
const DEFAULT_CASES: u32 = 64;

/// Smallest `EVENTBRIDGE_MAX_ENTRY_BYTES` the configuration accepts.
const MIN_ENTRY_BYTES: usize = 4096;

fn config() -> ProptestConfig {
    // `ProptestConfig::with_cases` ignores `PROPTEST_CASES`, so read it here.
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    ProptestConfig::with_cases(cases)
}

// ---------------------------------------------------------------------------
// Signatures
// ---------------------------------------------------------------------------

/// A body, the secrets to sign it with, the signing time `timestamp` and a
/// receiver clock `now` within `tolerance_secs` of it.
#[derive(Debug, Clone)]
struct Signed {
    body: Vec<u8>,
    secrets: Vec<String>,
    timestamp: u64,
    now: u64,
    tolerance_secs: u64,
}

impl Signed {
    fn settings(&self) -> Verification {
        Verification {
            now: self.now,
            tolerance_secs: self.tolerance_secs,
        }
    }

    /// Builds the header Stripe would send for this body with the first secret.
    fn header(&self) -> String {
        signature_header(&[self.secrets[0].as_str()], self.timestamp, &self.body)
    }

    /// Returns the first secret in the form the receiver stores.
    fn configured(&self) -> Vec<WebhookSecret> {
        vec![WebhookSecret::new(&self.secrets[0]).expect("generated secret is whsec_")]
    }
}

/// `whsec_` followed by any text that `WebhookSecret::new` keeps unchanged:
/// it trims surrounding whitespace and needs something after the prefix.
fn secret() -> impl Strategy<Value = String> {
    any::<String>().prop_filter_map("suffix is blank", |suffix| {
        let suffix = suffix.trim();
        (!suffix.is_empty()).then(|| format!("whsec_{suffix}"))
    })
}

fn body_bytes(min_len: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), min_len..512),
        any::<String>()
            .prop_filter("too short", move |text| text.len() >= min_len)
            .prop_map(String::into_bytes),
    ]
}

fn signed(min_body_len: usize) -> impl Strategy<Value = Signed> {
    (
        body_bytes(min_body_len),
        prop::collection::vec(secret(), 1..=3),
        1u64..=3600,
        3600u64..=8_000_000_000,
    )
        .prop_flat_map(|(body, secrets, tolerance_secs, now)| {
            let skew = -(tolerance_secs as i64)..=(tolerance_secs as i64);
            (
                Just(body),
                Just(secrets),
                Just(tolerance_secs),
                Just(now),
                skew,
            )
        })
        .prop_map(|(body, secrets, tolerance_secs, now, skew)| Signed {
            body,
            secrets,
            timestamp: now.checked_add_signed(skew).expect("now exceeds tolerance"),
            now,
            tolerance_secs,
        })
}

/// Parses and verifies, as the handler does.
fn check(
    header: &str,
    body: &[u8],
    secrets: &[WebhookSecret],
    settings: Verification,
) -> Result<(), SignatureError> {
    let parsed = parse_header(header)?;
    verify(&parsed, body, secrets, settings)
}

/// One edit of a body: replace, insert or remove a single byte.
#[derive(Debug, Clone)]
enum BodyEdit {
    Replace(Index, u8),
    Insert(Index, u8),
    Remove(Index),
}

fn body_edit() -> impl Strategy<Value = BodyEdit> {
    prop_oneof![
        (any::<Index>(), 1u8..=255).prop_map(|(at, xor)| BodyEdit::Replace(at, xor)),
        (any::<Index>(), any::<u8>()).prop_map(|(at, byte)| BodyEdit::Insert(at, byte)),
        any::<Index>().prop_map(BodyEdit::Remove),
    ]
}

fn apply(edit: &BodyEdit, body: &[u8]) -> Vec<u8> {
    let mut edited = body.to_vec();
    match edit {
        BodyEdit::Replace(at, xor) => edited[at.index(body.len())] ^= xor,
        BodyEdit::Insert(at, byte) => edited.insert(at.index(body.len() + 1), *byte),
        BodyEdit::Remove(at) => {
            edited.remove(at.index(body.len()));
        }
    }
    edited
}

/// One edit of the `t` digits.
#[derive(Debug, Clone)]
enum TimestampEdit {
    /// Replace the digit at a position by another digit.
    Digit(Index, u8),
    /// Replace the digit at a position by a character that is not a digit.
    NotDigit(Index, char),
    /// Prefix a `0`, which keeps the value but is not canonical.
    LeadingZero,
}

fn timestamp_edit() -> impl Strategy<Value = TimestampEdit> {
    prop_oneof![
        (any::<Index>(), 1u8..=9).prop_map(|(at, shift)| TimestampEdit::Digit(at, shift)),
        (
            any::<Index>(),
            // Whitespace at the end would be trimmed away, and a comma would
            // start another element.
            any::<char>().prop_filter("digit, space or comma", |c| {
                !c.is_ascii_digit() && !c.is_whitespace() && *c != ','
            })
        )
            .prop_map(|(at, c)| TimestampEdit::NotDigit(at, c)),
        Just(TimestampEdit::LeadingZero),
    ]
}

/// Applies `edit` to the digits of `timestamp`. Returns the new text and the
/// rejection reason it must cause.
fn edit_timestamp(edit: &TimestampEdit, timestamp: u64) -> (String, &'static str) {
    let text = timestamp.to_string();
    let mut chars: Vec<char> = text.chars().collect();
    match edit {
        TimestampEdit::Digit(at, shift) => {
            let at = at.index(chars.len());
            let old = chars[at].to_digit(10).expect("a digit");
            let new = (old + u32::from(*shift)) % 10;
            chars[at] = char::from_digit(new, 10).expect("a digit");
            let edited: String = chars.into_iter().collect();
            // A leading zero is not canonical. Any other digit change gives a
            // different number, which the MAC does not cover.
            let reason = if edited.starts_with('0') && edited.len() > 1 {
                "malformed_header"
            } else {
                "no_matching_signature"
            };
            (edited, reason)
        }
        TimestampEdit::NotDigit(at, c) => {
            let at = at.index(chars.len());
            chars[at] = *c;
            (chars.into_iter().collect(), "malformed_header")
        }
        TimestampEdit::LeadingZero => (format!("0{text}"), "malformed_header"),
    }
}

/// One edit of a hex digit of the `v1` value.
#[derive(Debug, Clone)]
enum HexEdit {
    /// Replace a digit by another hex digit of a different value, in either case.
    Value(Index, u8, bool),
    /// Replace a digit by a character that is not a hex digit.
    NotHex(Index, char),
}

fn hex_edit() -> impl Strategy<Value = HexEdit> {
    prop_oneof![
        (any::<Index>(), 1u8..=15, any::<bool>())
            .prop_map(|(at, shift, upper)| HexEdit::Value(at, shift, upper)),
        (
            any::<Index>(),
            any::<char>().prop_filter("hex digit", |c| !c.is_ascii_hexdigit() && *c != ',')
        )
            .prop_map(|(at, c)| HexEdit::NotHex(at, c)),
    ]
}

/// Applies `edit` to the lowercase hex `mac`. Returns the new text and the
/// rejection reason it must cause.
fn edit_hex(edit: &HexEdit, mac: &str) -> (String, &'static str) {
    let mut chars: Vec<char> = mac.chars().collect();
    match edit {
        HexEdit::Value(at, shift, upper) => {
            let at = at.index(chars.len());
            let old = chars[at].to_digit(16).expect("a hex digit");
            let new = char::from_digit((old + u32::from(*shift)) % 16, 16).expect("a hex digit");
            chars[at] = if *upper {
                new.to_ascii_uppercase()
            } else {
                new
            };
            (chars.into_iter().collect(), "no_matching_signature")
        }
        // A v1 that is not 64 hex digits is skipped, leaving no v1 at all.
        HexEdit::NotHex(at, c) => {
            let at = at.index(chars.len());
            chars[at] = *c;
            (chars.into_iter().collect(), "no_v1_signature")
        }
    }
}

/// Generates header-like text: `t`, `v1`, `v0` and other elements, well-formed
/// or not, with commas and spaces between them. Elements repeat so that some
/// headers pass the length or `v1` count limits.
fn header_like() -> impl Strategy<Value = String> {
    let element = prop_oneof![
        "t=[0-9]{0,22}",
        "t=[+-]?[0-9a-z ]{0,12}",
        "v1=[0-9a-fA-F]{62,66}",
        "v1=[0-9a-zA-Z=]{0,70}",
        "v0=[0-9a-f]{64}",
        "[a-z0-9 =]{0,8}",
        any::<String>(),
    ];
    let repeats = prop_oneof![4 => Just(1usize), 1 => 2usize..=100];
    prop::collection::vec((element, "[ ,\t]{0,2}", repeats), 0..40).prop_map(|parts| {
        let mut header = String::new();
        for (element, separator, repeats) in parts {
            for _ in 0..repeats {
                header.push_str(&element);
                header.push(',');
                header.push_str(&separator);
            }
        }
        header
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn signed_body_verifies(signed in signed(0), pick in any::<Index>()) {
        // The header has one v1 per secret, as during a secret roll, and any
        // one configured secret must be enough.
        let all: Vec<&str> = signed.secrets.iter().map(String::as_str).collect();
        let header = signature_header(&all, signed.timestamp, &signed.body);
        let configured = &signed.secrets[pick.index(signed.secrets.len())];
        let configured = vec![WebhookSecret::new(configured).expect("generated secret is whsec_")];
        prop_assert_eq!(
            check(&header, &signed.body, &configured, signed.settings()),
            Ok(()),
            "header {}", header
        );
    }

    #[test]
    fn edited_body_is_rejected(signed in signed(1), edit in body_edit()) {
        let body = apply(&edit, &signed.body);
        prop_assert_ne!(&body, &signed.body);
        prop_assert_eq!(
            check(&signed.header(), &body, &signed.configured(), signed.settings()),
            Err(SignatureError::NoMatchingSignature)
        );
    }

    #[test]
    fn edited_timestamp_is_rejected(signed in signed(0), edit in timestamp_edit()) {
        let header = signed.header();
        let original = format!("t={}", signed.timestamp);
        let rest = header.strip_prefix(&original).expect("header starts with t");
        let (timestamp, reason) = edit_timestamp(&edit, signed.timestamp);
        let edited = format!("t={timestamp}{rest}");
        let result = check(&edited, &signed.body, &signed.configured(), signed.settings());
        prop_assert_eq!(result.map_err(|e| e.reason()), Err(reason), "header {}", edited);
    }

    #[test]
    fn edited_v1_is_rejected(signed in signed(0), edit in hex_edit()) {
        let header = signed.header();
        let (prefix, mac) = header.split_once(",v1=").expect("header has a v1");
        let (mac, reason) = edit_hex(&edit, mac);
        let edited = format!("{prefix},v1={mac}");
        let result = check(&edited, &signed.body, &signed.configured(), signed.settings());
        prop_assert_eq!(result.map_err(|e| e.reason()), Err(reason), "header {}", edited);
    }

    #[test]
    fn header_parse_total_on_any_text(header in any::<String>()) {
        // The property is that parsing returns. `header_parse_keeps_bounds`
        // checks the results.
        let _ = parse_header(&header);
    }

    #[test]
    fn header_parse_keeps_bounds(header in header_like()) {
        match parse_header(&header) {
            Ok(parsed) => {
                prop_assert!(header.len() <= MAX_HEADER_BYTES, "{} bytes", header.len());
                prop_assert!(!parsed.signatures.is_empty());
                prop_assert!(parsed.signatures.len() <= MAX_V1_SIGNATURES);
                prop_assert_eq!(parsed.timestamp_text.parse::<u64>(), Ok(parsed.timestamp));
                prop_assert_eq!(parsed.timestamp.to_string(), parsed.timestamp_text);
            }
            Err(error) if header.len() > MAX_HEADER_BYTES => {
                prop_assert_eq!(error, SignatureError::HeaderTooLong { len: header.len() });
            }
            Err(_) => {}
        }
    }
}

// ---------------------------------------------------------------------------
// Envelopes, entries and pointers
// ---------------------------------------------------------------------------

/// Generates any JSON value serde_json can write, nested a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("not finite", |f| {
            serde_json::Number::from_f64(f).map(Value::Number)
        }),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

fn kind() -> impl Strategy<Value = EventKind> {
    prop_oneof![Just(EventKind::Snapshot), Just(EventKind::Thin)]
}

/// Generates event types of 1 to 128 characters of any kind.
fn event_type() -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), 1..=MAX_TYPE_CHARS).prop_map(String::from_iter)
}

/// Generates fields other than `id`, `object` and `type`, with any value. `created`,
/// `livemode`, `account` and `context` are among the names tried.
fn extra_fields() -> impl Strategy<Value = Vec<(String, Value)>> {
    let name = prop_oneof![
        Just("created".to_owned()),
        Just("livemode".to_owned()),
        Just("account".to_owned()),
        Just("context".to_owned()),
        Just("data".to_owned()),
        Just(MARKER_FIELD.to_owned()),
        any::<String>(),
    ]
    .prop_filter("envelope field", |name| {
        !["id", "object", "type"].contains(&name.as_str())
    });
    prop::collection::vec((name, json_value()), 0..8)
}

/// A valid envelope with arbitrary `data` and arbitrary extra fields.
#[derive(Debug, Clone)]
struct AnyEvent {
    id: String,
    event_type: String,
    kind: EventKind,
    fields: Map<String, Value>,
    pretty: bool,
}

impl AnyEvent {
    fn body(&self) -> String {
        let object = Value::Object(self.fields.clone());
        if self.pretty {
            serde_json::to_string_pretty(&object).expect("a JSON value serializes")
        } else {
            object.to_string()
        }
    }
}

fn any_event() -> impl Strategy<Value = AnyEvent> {
    (
        any::<String>().prop_filter("empty id", |id| !id.is_empty()),
        event_type(),
        kind(),
        json_value(),
        extra_fields(),
        any::<bool>(),
    )
        .prop_map(|(id, event_type, kind, data, extra, pretty)| {
            let mut fields: Map<String, Value> = extra.into_iter().collect();
            fields.insert("data".to_owned(), json!({ "object": data }));
            fields.insert("id".to_owned(), Value::String(id.clone()));
            fields.insert("type".to_owned(), Value::String(event_type.clone()));
            fields.insert("object".to_owned(), kind.object_name().into());
            AnyEvent {
                id,
                event_type,
                kind,
                fields,
                pretty,
            }
        })
}

/// Generates a Stripe-shaped event: short `id`, `created`, `livemode` and account, any
/// type, and arbitrary other fields, some large enough to need a pointer.
///
/// `pointer_detail` meets its size limit unless `id` or `type` alone is that
/// large, so these events keep them at the size Stripe sends; the handler
/// rejects the rest with `event_too_large`.
fn stripe_shaped_event() -> impl Strategy<Value = AnyEvent> {
    (
        "evt_[A-Za-z0-9]{1,60}",
        event_type(),
        kind(),
        any::<bool>(),
        prop::option::of("acct_[A-Za-z0-9]{16}"),
        0u32..=u32::MAX,
        stripe_object(),
        extra_fields(),
        0usize..20_000,
    )
        .prop_map(
            |(id, event_type, kind, livemode, account, created, object, extra, padding)| {
                let mut fields: Map<String, Value> = extra
                    .into_iter()
                    .filter(|(name, _)| {
                        !["created", "livemode", "account", "context"].contains(&name.as_str())
                    })
                    .collect();
                fields.insert("padding".to_owned(), "x".repeat(padding).into());
                fields.insert("data".to_owned(), json!({ "object": object }));
                fields.insert("id".to_owned(), id.clone().into());
                fields.insert("type".to_owned(), event_type.clone().into());
                fields.insert("object".to_owned(), kind.object_name().into());
                fields.insert("livemode".to_owned(), livemode.into());
                let created = match kind {
                    EventKind::Snapshot => Value::from(created),
                    EventKind::Thin => aws_smithy_types::DateTime::from_secs(created.into())
                        .fmt(aws_smithy_types::date_time::Format::DateTime)
                        .expect("a u32 time formats")
                        .into(),
                };
                fields.insert("created".to_owned(), created);
                if let Some(account) = account {
                    let name = match kind {
                        EventKind::Snapshot => "account",
                        EventKind::Thin => "context",
                    };
                    fields.insert(name.to_owned(), account.into());
                }
                AnyEvent {
                    id,
                    event_type,
                    kind,
                    fields,
                    pretty: false,
                }
            },
        )
}

/// Generates a `data.object` with a short `id` and `object` and any other
/// fields.
fn stripe_object() -> impl Strategy<Value = Value> {
    (
        "[a-z]{2,4}_[A-Za-z0-9]{8,24}",
        "[a-z_.]{3,30}",
        prop::collection::btree_map(any::<String>(), json_value(), 0..8),
    )
        .prop_map(|(id, object, other)| {
            let mut fields: Map<String, Value> = other.into_iter().collect();
            fields.insert("id".to_owned(), id.into());
            fields.insert("object".to_owned(), object.into());
            Value::Object(fields)
        })
}

/// Generates text of up to a few hundred bytes with ASCII, two-, three- and
/// four-byte characters, with at most one byte replaced. The length lets the
/// SIMD check process whole blocks as well as a tail.
fn text_with_one_damaged_byte() -> impl Strategy<Value = Vec<u8>> {
    let text = prop::collection::vec(prop::sample::select(vec!['a', '"', 'é', '€', '😀']), 0..200)
        .prop_map(|chars| chars.into_iter().collect::<String>().into_bytes());
    (text, any::<prop::sample::Index>(), any::<Option<u8>>()).prop_map(
        |(mut bytes, index, byte)| {
            if let Some(byte) = byte.filter(|_| !bytes.is_empty()) {
                let at = index.index(bytes.len());
                bytes[at] = byte;
            }
            bytes
        },
    )
}

fn truncation(id: String) -> impl Strategy<Value = Truncation> {
    (
        any::<usize>(),
        any::<usize>(),
        any::<usize>(),
        prop::option::of(("[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", any::<usize>())),
        any::<[u8; 32]>(),
    )
        .prop_map(
            move |(entry_bytes, body_bytes, max_bytes, claim_check, digest)| Truncation {
                original_entry_bytes: entry_bytes,
                original_body_bytes: body_bytes,
                max_entry_bytes: max_bytes,
                claim_check: claim_check.map(|(bucket, bytes)| ClaimCheck {
                    bucket,
                    key: object_key(&id),
                    bytes,
                    sha256: hex::encode(digest),
                }),
            },
        )
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn envelope_parse_total_on_any_text(body in any::<String>()) {
        if let Ok(envelope) = parse_envelope(&body) {
            prop_assert!(!envelope.id.is_empty());
            prop_assert!((1..=MAX_TYPE_CHARS).contains(&envelope.event_type.chars().count()));
        }
    }

    #[test]
    fn envelope_parse_total_on_any_json(value in json_value()) {
        let _ = parse_envelope(&value.to_string());
    }

    #[test]
    fn body_text_total_on_any_bytes(body in prop::collection::vec(any::<u8>(), 0..256)) {
        prop_assert_eq!(body_text(&body).is_ok(), std::str::from_utf8(&body).is_ok());
    }

    #[test]
    fn utf8_checks_agree_with_std(body in text_with_one_damaged_byte()) {
        let expected = std::str::from_utf8(&body).map_err(|error| error.valid_up_to());
        let offset = |error: EventError| match error {
            EventError::NotUtf8 { offset } => offset,
            other => panic!("unexpected error {other:?}"),
        };
        prop_assert_eq!(body_text(&body).map_err(offset), expected);
        let owned = body_string(body.clone()).map_err(offset);
        prop_assert_eq!(owned.as_ref().map(String::as_str).map_err(|at| *at), expected);
    }

    #[test]
    fn envelope_accepts_any_extra_fields(event in any_event()) {
        let body = event.body();
        let envelope = parse_envelope(&body);
        prop_assert!(envelope.is_ok(), "{:?} for body {}", envelope, body);
        let envelope = envelope.expect("checked above");
        prop_assert_eq!(&envelope.id, &event.id);
        prop_assert_eq!(&envelope.event_type, &event.event_type);
        prop_assert_eq!(envelope.kind, event.kind);
        prop_assert_eq!(envelope.livemode, event.fields.get("livemode").and_then(Value::as_bool));
        let account_field = match event.kind {
            EventKind::Snapshot => "account",
            EventKind::Thin => "context",
        };
        prop_assert_eq!(
            envelope.account.as_deref(),
            event.fields.get(account_field).and_then(Value::as_str)
        );
        if event.kind == EventKind::Snapshot {
            prop_assert_eq!(
                envelope.created.map(|created| created.secs()),
                event.fields.get("created").and_then(Value::as_i64)
            );
        }
    }

    #[test]
    fn entry_size_counts_utf8_bytes(
        source in any::<String>(),
        detail_type in any::<String>(),
        detail in any::<String>(),
        has_time in any::<bool>(),
    ) {
        let utf8_len = |text: &str| text.chars().map(char::len_utf8).sum::<usize>();
        let expected = if has_time { 14 } else { 0 }
            + utf8_len(&source)
            + utf8_len(&detail_type)
            + utf8_len(&detail);
        prop_assert_eq!(entry_size(&source, &detail_type, &detail, has_time), expected);

        let entry = Entry {
            source,
            detail_type,
            detail,
            time: has_time.then(|| aws_smithy_types::DateTime::from_secs(0)),
            trace_header: None,
        };
        prop_assert_eq!(entry.size(), expected);
    }

    #[test]
    fn pointer_fits_and_keeps_id(
        (event, truncation) in stripe_shaped_event().prop_flat_map(|event| {
            let truncation = truncation(event.id.clone());
            (Just(event), truncation)
        }),
        max_detail_bytes in MIN_ENTRY_BYTES..=64 * 1024,
    ) {
        let body = event.body();
        prop_assert!(parse_envelope(&body).is_ok(), "body {}", body);
        let detail = pointer_detail(&body, &truncation, max_detail_bytes);
        prop_assert!(
            detail.len() <= max_detail_bytes,
            "pointer is {} bytes, limit {}", detail.len(), max_detail_bytes
        );

        let pointer: Result<Value, _> = serde_json::from_str(&detail);
        prop_assert!(pointer.is_ok(), "{:?} for pointer {}", pointer, detail);
        let pointer = pointer.expect("checked above");
        prop_assert_eq!(&pointer["id"], &Value::String(event.id.clone()));
        prop_assert_eq!(&pointer["type"], &Value::String(event.event_type.clone()));
        prop_assert_eq!(&pointer[MARKER_FIELD]["truncated"], &Value::Bool(true));
        prop_assert_eq!(
            pointer[MARKER_FIELD].get("claim_check").is_some(),
            truncation.claim_check.is_some()
        );
        if let Some(data) = pointer.get("data") {
            let object = data["object"].as_object();
            prop_assert!(object.is_some(), "data {}", data);
            let object = object.expect("checked above");
            prop_assert!(object.keys().all(|key| key == "id" || key == "object"), "data {}", data);
        }

        // When every field fits, nothing is dropped.
        let full = pointer_detail(&body, &truncation, usize::MAX);
        if full.len() <= max_detail_bytes {
            prop_assert_eq!(&detail, &full);
        }
    }

    #[test]
    fn pointer_is_json_for_any_event(event in any_event(), max_detail_bytes in any::<usize>()) {
        // Without a size bound on the essential fields, the pointer is still
        // valid JSON with the event's id and type.
        let truncation = Truncation {
            original_entry_bytes: 0,
            original_body_bytes: 0,
            max_entry_bytes: 0,
            claim_check: None,
        };
        let detail = pointer_detail(&event.body(), &truncation, max_detail_bytes);
        let pointer: Result<Value, _> = serde_json::from_str(&detail);
        prop_assert!(pointer.is_ok(), "{:?} for pointer {}", pointer, detail);
        let pointer = pointer.expect("checked above");
        prop_assert_eq!(&pointer["id"], &Value::String(event.id.clone()));
        prop_assert_eq!(&pointer["type"], &Value::String(event.event_type.clone()));
    }
}

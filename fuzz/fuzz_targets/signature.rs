//! Fuzzes `Stripe-Signature` parsing and verification.
//!
//! Input: the header text, a newline, then the raw body bytes. Inputs whose
//! header part is not UTF-8 are skipped, because the handler only passes
//! visible ASCII.

#![no_main]

use libfuzzer_sys::fuzz_target;
use stripe_eventbridge::config::WebhookSecret;
use stripe_eventbridge::signature::{
    MAX_HEADER_BYTES, MAX_V1_SIGNATURES, SignatureError, Verification, check_window, parse_header,
    signature_header, verify,
};

/// The two secrets of `tests/data/signature-vectors.json`, so that its cases
/// seed the corpus with matching MACs.
const SECRETS: [&str; 2] = [
    "whsec_test_k1_AAAAAAAAAAAAAAAA",
    "whsec_test_k2_BBBBBBBBBBBBBBBB",
];

/// The receiver clock of most signature vectors, Unix seconds.
const NOW: u64 = 1_767_225_600;

const SETTINGS: Verification = Verification {
    now: NOW,
    tolerance_secs: 300,
};

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let Ok(header) = std::str::from_utf8(&data[..split]) else {
        return;
    };
    let body = data.get(split + 1..).unwrap_or_default();
    let secrets: Vec<WebhookSecret> = SECRETS
        .iter()
        .map(|text| WebhookSecret::new(text).expect("a whsec_ secret"))
        .collect();

    let parsed = match parse_header(header) {
        Ok(parsed) => parsed,
        Err(error) => {
            if header.len() > MAX_HEADER_BYTES {
                assert_eq!(error, SignatureError::HeaderTooLong { len: header.len() });
            }
            // Format every rejection, as the handler's log line does.
            let _ = (error.to_string(), error.reason());
            return;
        }
    };
    assert!(
        header.len() <= MAX_HEADER_BYTES,
        "{} bytes parsed",
        header.len()
    );
    assert!(!parsed.signatures.is_empty(), "parsed without a v1");
    assert!(
        parsed.signatures.len() <= MAX_V1_SIGNATURES,
        "too many v1 kept"
    );
    assert_eq!(parsed.timestamp.to_string(), parsed.timestamp_text);

    match verify(&parsed, body, &secrets, SETTINGS) {
        Ok(())
        | Err(SignatureError::NoMatchingSignature)
        | Err(SignatureError::TimestampOutsideTolerance { .. }) => {}
        Err(other) => panic!("verify returned a parse error: {other:?}"),
    }

    // The header Stripe would send for this body at this `t` verifies
    // exactly when `t` is inside the window.
    let own = signature_header(&[SECRETS[1]], parsed.timestamp, body);
    let own = parse_header(&own).expect("own header parses");
    assert_eq!(
        verify(&own, body, &secrets, SETTINGS),
        check_window(parsed.timestamp, SETTINGS)
    );
});

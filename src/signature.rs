//! Verification of the `Stripe-Signature` header.
//!
//! Stripe signs each delivery attempt with HMAC-SHA256 over the bytes of the
//! timestamp `t` as sent, a `.`, and the raw request body, keyed with the whole
//! `whsec_…` secret string. Rules beyond what Stripe documents are ours:
//!
//! - The header is at most [`MAX_HEADER_BYTES`] long and carries at most
//!   [`MAX_V1_SIGNATURES`] `v1` entries; both are checked before any HMAC work.
//! - `t` is canonical decimal digits (no sign, no leading zero); two different
//!   `t` values make the header ambiguous and so malformed.
//! - Every `v1` is tried against every secret; a `v1` that is not 64 hex digits
//!   is skipped.
//! - The time window is symmetric, `|now - t| <= tolerance`, and is checked
//!   after the HMAC so that "outside tolerance" is only reported for authentic
//!   requests.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::config::WebhookSecret;

type HmacSha256 = Hmac<Sha256>;

/// Maximum length of the `Stripe-Signature` header, in bytes.
pub const MAX_HEADER_BYTES: usize = 4096;

/// Maximum number of `v1` entries accepted in one header.
pub const MAX_V1_SIGNATURES: usize = 8;

/// Length of one SHA-256 MAC in bytes.
const MAC_BYTES: usize = 32;

/// Reasons a request's signature is rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The request carries no `Stripe-Signature` header, or an empty one.
    #[error("missing Stripe-Signature header")]
    MissingHeader,
    /// The header contains bytes that are not visible ASCII.
    #[error("Stripe-Signature header is not visible ASCII")]
    InvalidHeaderEncoding,
    /// The header exceeds [`MAX_HEADER_BYTES`].
    #[error("Stripe-Signature header is {len} bytes; the limit is {MAX_HEADER_BYTES}")]
    HeaderTooLong {
        /// Header length in bytes.
        len: usize,
    },
    /// The header carries more than [`MAX_V1_SIGNATURES`] `v1` entries.
    #[error("Stripe-Signature header has {count} v1 entries; the limit is {MAX_V1_SIGNATURES}")]
    TooManySignatures {
        /// Number of `v1` entries seen.
        count: usize,
    },
    /// The header has no `t` element.
    #[error("Stripe-Signature header has no timestamp (t=)")]
    MissingTimestamp,
    /// A `t` element is not canonical decimal digits.
    #[error("Stripe-Signature timestamp is not canonical decimal digits")]
    InvalidTimestamp,
    /// Two `t` elements disagree.
    #[error("Stripe-Signature header has conflicting timestamps")]
    ConflictingTimestamps,
    /// No `v1` entry of 64 hex digits is present.
    #[error("Stripe-Signature header has no usable v1 signature")]
    NoV1Signature,
    /// No `v1` entry matches any configured secret.
    #[error("no v1 signature matches a configured secret")]
    NoMatchingSignature,
    /// The signature is authentic but `t` is too far from the receiver's clock.
    #[error("timestamp {timestamp} is {skew_secs} s from now; tolerance is {tolerance_secs} s")]
    TimestampOutsideTolerance {
        /// The header's `t`.
        timestamp: u64,
        /// `|now - t|` in seconds.
        skew_secs: u64,
        /// The configured tolerance in seconds.
        tolerance_secs: u64,
    },
}

impl SignatureError {
    /// Returns the short machine-readable reason sent in responses and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::MissingHeader => "missing_header",
            Self::InvalidHeaderEncoding
            | Self::HeaderTooLong { .. }
            | Self::TooManySignatures { .. }
            | Self::MissingTimestamp
            | Self::InvalidTimestamp
            | Self::ConflictingTimestamps => "malformed_header",
            Self::NoV1Signature => "no_v1_signature",
            Self::NoMatchingSignature => "no_matching_signature",
            Self::TimestampOutsideTolerance { .. } => "timestamp_outside_tolerance",
        }
    }
}

/// A parsed `Stripe-Signature` header that borrows from the header text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeader<'a> {
    /// The timestamp digits exactly as sent; the signed payload uses them.
    pub timestamp_text: &'a str,
    /// The timestamp as Unix seconds.
    pub timestamp: u64,
    /// Every well-formed `v1` MAC, decoded from hex.
    pub signatures: Vec<[u8; MAC_BYTES]>,
}

/// Parses a `Stripe-Signature` header, checking its bounds first.
///
/// Elements are separated by commas and trimmed; empty elements, elements
/// without `=` and unknown keys (`v0` included) are ignored.
///
/// # Errors
///
/// Returns a [`SignatureError`] for an empty, oversized or malformed header,
/// or one without a usable `v1`.
pub fn parse_header(header: &str) -> Result<SignatureHeader<'_>, SignatureError> {
    if header.len() > MAX_HEADER_BYTES {
        return Err(SignatureError::HeaderTooLong { len: header.len() });
    }
    if header.trim().is_empty() {
        return Err(SignatureError::MissingHeader);
    }

    let mut timestamp_text: Option<&str> = None;
    let mut v1_count = 0usize;
    let mut signatures = Vec::new();
    for element in header.split(',') {
        let Some((key, value)) = element.trim().split_once('=') else {
            continue;
        };
        match key {
            "t" => {
                if timestamp_text.is_some_and(|seen| seen != value) {
                    return Err(SignatureError::ConflictingTimestamps);
                }
                timestamp_text = Some(value);
            }
            "v1" => {
                v1_count += 1;
                if v1_count > MAX_V1_SIGNATURES {
                    return Err(SignatureError::TooManySignatures { count: v1_count });
                }
                let mut mac = [0u8; MAC_BYTES];
                // A v1 that is not 64 hex digits cannot match; skip it.
                if hex::decode_to_slice(value, &mut mac).is_ok() && !signatures.contains(&mac) {
                    signatures.push(mac);
                }
            }
            _ => {}
        }
    }

    let timestamp_text = timestamp_text.ok_or(SignatureError::MissingTimestamp)?;
    let timestamp = parse_timestamp(timestamp_text)?;
    if signatures.is_empty() {
        return Err(SignatureError::NoV1Signature);
    }
    Ok(SignatureHeader {
        timestamp_text,
        timestamp,
        signatures,
    })
}

/// Parses canonical decimal digits: no sign, no leading zero, no overflow.
fn parse_timestamp(text: &str) -> Result<u64, SignatureError> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    if !canonical {
        return Err(SignatureError::InvalidTimestamp);
    }
    text.parse().map_err(|_| SignatureError::InvalidTimestamp)
}

/// Settings for [`verify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verification {
    /// Receiver clock, Unix seconds.
    pub now: u64,
    /// Maximum allowed `|now - t|`, in seconds.
    pub tolerance_secs: u64,
}

/// Verifies a parsed header against the raw body and a set of secrets.
///
/// Every secret is tried against every `v1` in constant time per comparison;
/// the time window is checked only once a MAC matched.
///
/// # Errors
///
/// Returns [`SignatureError::NoMatchingSignature`] when no MAC matches, and
/// [`SignatureError::TimestampOutsideTolerance`] for an authentic but stale or
/// future-dated request.
pub fn verify(
    header: &SignatureHeader<'_>,
    body: &[u8],
    secrets: &[WebhookSecret],
    settings: Verification,
) -> Result<(), SignatureError> {
    let matched = secrets.iter().any(|secret| {
        let mac = signed_payload_mac(secret.expose().as_bytes(), header.timestamp_text, body);
        header
            .signatures
            .iter()
            .any(|candidate| mac.clone().verify_slice(candidate).is_ok())
    });
    if !matched {
        return Err(SignatureError::NoMatchingSignature);
    }
    check_window(header.timestamp, settings)
}

/// Checks `|now - t| <= tolerance`.
///
/// # Errors
///
/// Returns [`SignatureError::TimestampOutsideTolerance`] outside the window.
pub fn check_window(timestamp: u64, settings: Verification) -> Result<(), SignatureError> {
    let skew_secs = settings.now.abs_diff(timestamp);
    if skew_secs > settings.tolerance_secs {
        return Err(SignatureError::TimestampOutsideTolerance {
            timestamp,
            skew_secs,
            tolerance_secs: settings.tolerance_secs,
        });
    }
    Ok(())
}

/// Returns the HMAC state after absorbing `t`, `.` and the body.
fn signed_payload_mac(key: &[u8], timestamp_text: &str, body: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(timestamp_text.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// Computes the lowercase hex `v1` signature Stripe would send.
pub fn sign_v1(secret: &str, timestamp: u64, body: &[u8]) -> String {
    let mac = signed_payload_mac(secret.as_bytes(), &timestamp.to_string(), body);
    hex::encode(mac.finalize().into_bytes())
}

/// Builds a `Stripe-Signature` header value with one `v1` per secret, as
/// Stripe sends during a secret roll.
pub fn signature_header(secrets: &[&str], timestamp: u64, body: &[u8]) -> String {
    let mut header = format!("t={timestamp}");
    for secret in secrets {
        header.push_str(",v1=");
        header.push_str(&sign_v1(secret, timestamp, body));
    }
    header
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_unit_test_secret";
    const NOW: u64 = 1_767_225_600;

    fn secrets() -> Vec<WebhookSecret> {
        vec![WebhookSecret::new(SECRET).unwrap()]
    }

    fn settings() -> Verification {
        Verification {
            now: NOW,
            tolerance_secs: 300,
        }
    }

    fn check(header: &str, body: &[u8]) -> Result<(), SignatureError> {
        let parsed = parse_header(header)?;
        verify(&parsed, body, &secrets(), settings())
    }

    #[test]
    fn accepts_own_signature() {
        let body = br#"{"id":"evt_1"}"#;
        let header = signature_header(&[SECRET], NOW - 10, body);
        assert_eq!(check(&header, body), Ok(()), "header {header}");
    }

    #[test]
    fn accepts_any_matching_v1() {
        let body = br#"{"id":"evt_1"}"#;
        let header = signature_header(&["whsec_other", SECRET], NOW, body);
        assert_eq!(check(&header, body), Ok(()));
    }

    #[test]
    fn rejects_future_timestamp() {
        let body = b"{}";
        let header = signature_header(&[SECRET], NOW + 301, body);
        assert_eq!(
            check(&header, body).map_err(|e| e.reason()),
            Err("timestamp_outside_tolerance")
        );
    }

    #[test]
    fn stale_forgery_reports_mismatch_not_age() {
        let body = b"{}";
        let header = signature_header(&["whsec_not_ours"], NOW - 10_000, body);
        assert_eq!(
            check(&header, body),
            Err(SignatureError::NoMatchingSignature)
        );
    }

    #[test]
    fn rejects_timestamp_overflow() {
        let header = format!("t=99999999999999999999999,v1={}", "0".repeat(64));
        assert_eq!(parse_header(&header), Err(SignatureError::InvalidTimestamp));
    }

    #[test]
    fn rejects_signed_timestamp() {
        for t in ["+1767225600", "-1", " 1", "1e9", ""] {
            let header = format!("t={t},v1={}", "0".repeat(64));
            assert_eq!(
                parse_header(&header).map_err(|e| e.reason()),
                Err("malformed_header"),
                "t={t:?}"
            );
        }
    }

    #[test]
    fn counts_v1_before_decoding() {
        let header = format!("t=1,{}", "v1=x,".repeat(MAX_V1_SIGNATURES + 1));
        assert_eq!(
            parse_header(&header),
            Err(SignatureError::TooManySignatures {
                count: MAX_V1_SIGNATURES + 1
            })
        );
    }

    #[test]
    fn header_at_limit_is_parsed() {
        let base = format!("t=1767225600,v1={}", "a".repeat(64));
        let padding = ",".repeat(MAX_HEADER_BYTES - base.len());
        let header = format!("{base}{padding}");
        assert_eq!(header.len(), MAX_HEADER_BYTES);
        assert!(parse_header(&header).is_ok());
        let over = format!("{header},");
        assert_eq!(
            parse_header(&over),
            Err(SignatureError::HeaderTooLong {
                len: MAX_HEADER_BYTES + 1
            })
        );
    }

    #[test]
    fn display_names_values() {
        let error = SignatureError::TimestampOutsideTolerance {
            timestamp: 1_767_225_000,
            skew_secs: 400,
            tolerance_secs: 300,
        };
        assert_eq!(
            error.to_string(),
            "timestamp 1767225000 is 400 s from now; tolerance is 300 s"
        );
    }
}

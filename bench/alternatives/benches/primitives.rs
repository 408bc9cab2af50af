//! HMAC-SHA256 and JSON validation candidates for the receiver, timed on the
//! 5 KB and 100 KB bodies of `bench/data`.
//!
//! Every HMAC case computes the MAC of `t.body` with the benchmark secret,
//! starting from the key each time as the receiver does. Before timing,
//! `main` prints which JSON cases reject a syntax error and an invalid UTF-8
//! byte deep inside `data.object`: a case that misses either is not a full
//! validation.
//!
//! `cargo bench` times them all. `cargo bench --features sha2-asm` or
//! `--features sha2-soft` times only the hmac+sha2 cases, with sha2's `asm`
//! or `force-soft` feature. Times are thread CPU time unless
//! `BENCH_CLOCK=wall`.

use std::hint::black_box;

use criterion::measurement::Measurement;
use criterion::{Criterion, Throughput};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;
use sha2::Sha256;

#[path = "../../../benches/support/thread_cpu_time.rs"]
mod thread_cpu_time;
use thread_cpu_time::run_criterion;

const SECRET: &[u8] = b"whsec_bench_0123456789abcdefghijklmnopqrstuv";
const TIMESTAMP: &[u8] = b"1767225600";

const BODY_5K: &[u8] = include_bytes!("../../data/charge-5k.json");
const BODY_100K: &[u8] = include_bytes!("../../data/charge-100k.json");

fn hmac_sha2(body: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET).expect("any key length");
    mac.update(TIMESTAMP);
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

fn hmac_ring(body: &[u8]) -> [u8; 32] {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, SECRET);
    let mut context = ring::hmac::Context::with_key(&key);
    context.update(TIMESTAMP);
    context.update(b".");
    context.update(body);
    context.sign().as_ref().try_into().expect("32-byte tag")
}

fn hmac_aws_lc(body: &[u8]) -> [u8; 32] {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, SECRET);
    let mut context = aws_lc_rs::hmac::Context::with_key(&key);
    context.update(TIMESTAMP);
    context.update(b".");
    context.update(body);
    context.sign().as_ref().try_into().expect("32-byte tag")
}

/// The receiver's envelope fields, read as serde_json raw values (the shape
/// of `RawEnvelope` in `src/event.rs`).
#[derive(Deserialize)]
#[allow(dead_code)]
struct SerdeEnvelope<'a> {
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    #[serde(borrow)]
    object: Option<&'a RawValue>,
    #[serde(borrow, rename = "type")]
    event_type: Option<&'a RawValue>,
    #[serde(borrow)]
    created: Option<&'a RawValue>,
    #[serde(borrow)]
    livemode: Option<&'a RawValue>,
    #[serde(borrow)]
    account: Option<&'a RawValue>,
    #[serde(borrow)]
    context: Option<&'a RawValue>,
}

/// The same fields read as sonic-rs lazy values.
#[derive(Deserialize)]
#[allow(dead_code)]
struct SonicEnvelope<'a> {
    #[serde(borrow)]
    id: Option<sonic_rs::LazyValue<'a>>,
    #[serde(borrow)]
    object: Option<sonic_rs::LazyValue<'a>>,
    #[serde(borrow, rename = "type")]
    event_type: Option<sonic_rs::LazyValue<'a>>,
    #[serde(borrow)]
    created: Option<sonic_rs::LazyValue<'a>>,
    #[serde(borrow)]
    livemode: Option<sonic_rs::LazyValue<'a>>,
    #[serde(borrow)]
    account: Option<sonic_rs::LazyValue<'a>>,
    #[serde(borrow)]
    context: Option<sonic_rs::LazyValue<'a>>,
}

/// Each JSON candidate: name and a function that validates the whole body
/// (UTF-8 included) and reports whether it is valid.
type Validator = fn(&[u8]) -> bool;

const VALIDATORS: [(&str, Validator); 10] = [
    ("serde_json_slice_ignored", |body| {
        serde_json::from_slice::<IgnoredAny>(body).is_ok()
    }),
    ("std_utf8_then_serde_json_ignored", |body| {
        std::str::from_utf8(body).is_ok_and(|text| serde_json::from_str::<IgnoredAny>(text).is_ok())
    }),
    ("std_utf8_then_serde_json_envelope", |body| {
        // What the receiver does today: UTF-8 check, then parse the text.
        std::str::from_utf8(body)
            .is_ok_and(|text| serde_json::from_str::<SerdeEnvelope<'_>>(text).is_ok())
    }),
    ("simdutf8_then_serde_json_envelope", |body| {
        simdutf8::basic::from_utf8(body)
            .is_ok_and(|text| serde_json::from_str::<SerdeEnvelope<'_>>(text).is_ok())
    }),
    ("sonic_rs_ignored", |body| {
        sonic_rs::from_slice::<IgnoredAny>(body).is_ok()
    }),
    ("sonic_rs_envelope", |body| {
        sonic_rs::from_slice::<SonicEnvelope<'_>>(body).is_ok()
    }),
    ("simd_json_tape_with_copy", |body| {
        // simd-json rewrites its input, and the body must stay as received
        // for Detail, so it works on a copy.
        let mut copy = body.to_vec();
        simd_json::to_tape(&mut copy).is_ok()
    }),
    ("simd_json_envelope_with_copy", |body| {
        let mut copy = body.to_vec();
        simd_json::serde::from_slice::<IgnoredEnvelope>(&mut copy).is_ok()
    }),
    ("std_utf8_only", |body| std::str::from_utf8(body).is_ok()),
    ("simdutf8_only", |body| {
        simdutf8::basic::from_utf8(body).is_ok()
    }),
];

/// Envelope fields as owned values, for simd-json's serde support.
#[derive(Deserialize)]
#[allow(dead_code)]
struct IgnoredEnvelope {
    id: Option<String>,
    object: Option<String>,
    #[serde(rename = "type")]
    event_type: Option<String>,
    created: Option<IgnoredAny>,
    livemode: Option<IgnoredAny>,
    account: Option<IgnoredAny>,
    context: Option<IgnoredAny>,
}

/// Prints which JSON candidates reject a body broken inside `data.object`,
/// by a syntax error and by a byte that is not UTF-8, and checks that the
/// HMAC candidates agree.
fn check_candidates() {
    let text = std::str::from_utf8(BODY_5K).expect("UTF-8 body");
    let bad_syntax = text.replacen("\"amount\":18990", "\"amount\":tru", 1);
    assert_ne!(bad_syntax, text, "the 5 KB body has the amount to break");
    let mut bad_utf8 = text
        .replacen("\"currency\":\"chf\"", "\"currency\":\"ch#\"", 1)
        .into_bytes();
    let at = bad_utf8
        .windows(3)
        .position(|w| w == b"ch#")
        .expect("the 5 KB body has the currency to break");
    bad_utf8[at + 2] = 0xff;
    for (name, validate) in VALIDATORS {
        let accepts_valid = validate(BODY_5K) && validate(BODY_100K);
        let rejects_syntax = !validate(bad_syntax.as_bytes());
        let rejects_utf8 = !validate(&bad_utf8);
        eprintln!(
            "check {name}: accepts both bodies {accepts_valid}, rejects nested syntax error \
             {rejects_syntax}, rejects nested invalid UTF-8 {rejects_utf8}"
        );
    }
    let expected = hmac_sha2(BODY_100K);
    assert_eq!(hmac_ring(BODY_100K), expected, "ring MAC differs");
    assert_eq!(hmac_aws_lc(BODY_100K), expected, "aws-lc-rs MAC differs");
}

fn bench<M: Measurement>(criterion: &mut Criterion<M>) {
    let variant = cfg!(feature = "sha2-asm") || cfg!(feature = "sha2-soft");
    let hmac_name = if cfg!(feature = "sha2-soft") {
        "hmac_sha2_soft"
    } else if cfg!(feature = "sha2-asm") {
        "hmac_sha2_asm"
    } else {
        "hmac_sha2"
    };
    for (label, body) in [("5k", BODY_5K), ("100k", BODY_100K)] {
        let mut group = criterion.benchmark_group(label);
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(hmac_name, |b| b.iter(|| hmac_sha2(black_box(body))));
        if !variant {
            group.bench_function("hmac_ring", |b| b.iter(|| hmac_ring(black_box(body))));
            group.bench_function("hmac_aws_lc_rs", |b| {
                b.iter(|| hmac_aws_lc(black_box(body)))
            });
            for (name, validate) in VALIDATORS {
                group.bench_function(name, |b| b.iter(|| assert!(validate(black_box(body)))));
            }
        }
        group.finish();
    }
}

fn main() {
    check_candidates();
    run_criterion(bench, bench);
}

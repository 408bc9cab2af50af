//! CPU cost of one webhook before it leaves for EventBridge: verify the
//! signature, parse the envelope and build the entry, on the 5 KB and 100 KB
//! bodies of `bench/data`. The floor beside it is one HMAC-SHA256 over the
//! signed payload plus one full validation of the body as JSON text (UTF-8
//! check, then serde_json), which any verifying receiver has to pay.
//!
//! `cargo bench --bench pipeline` runs the criterion benchmarks, timed in
//! thread CPU time; set `BENCH_CLOCK=wall` for wall time.
//!
//! Run the built binary as `pipeline count CASE N` to execute one case N
//! times with no timing, for instruction counts under
//! `valgrind --tool=callgrind`: the count per call is the difference between
//! a run with N and a run with 0, divided by N. `pipeline cases` lists the
//! case names.

use std::hint::black_box;

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use criterion::measurement::Measurement;
use criterion::{BatchSize, Criterion, Throughput};
use hmac::{Hmac, KeyInit, Mac};
use serde::de::IgnoredAny;
use sha2::Sha256;
use stripe_eventbridge::config::WebhookSecret;
use stripe_eventbridge::entry::Entry;
use stripe_eventbridge::event::{body_string, body_text, parse_envelope};
use stripe_eventbridge::forward;
use stripe_eventbridge::signature::{self, Verification, signature_header};

#[path = "support/thread_cpu_time.rs"]
mod thread_cpu_time;
use thread_cpu_time::run_criterion;

/// The benchmark secret shared with the stripe-node and stripe-python scripts.
const SECRET: &str = "whsec_bench_0123456789abcdefghijklmnopqrstuv";
/// Signing time and receiver clock in Unix seconds, fixed so that runs repeat.
const NOW: u64 = 1_767_225_600;
/// `Source` of the built entry, the receiver's default.
const SOURCE: &str = "stripe.com";

const BODY_5K: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/bench/data/charge-5k.json"
));
const BODY_100K: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/bench/data/charge-100k.json"
));

/// One signed body with the secrets that verify it.
struct Input {
    label: &'static str,
    body: &'static [u8],
    header: String,
    timestamp_text: String,
    secrets: Vec<WebhookSecret>,
}

impl Input {
    fn new(label: &'static str, body: &'static [u8]) -> Self {
        Self {
            label,
            body,
            header: signature_header(&[SECRET], NOW, body),
            timestamp_text: NOW.to_string(),
            secrets: vec![WebhookSecret::new(SECRET).expect("valid benchmark secret")],
        }
    }
}

fn inputs() -> [Input; 2] {
    [Input::new("5k", BODY_5K), Input::new("100k", BODY_100K)]
}

/// Runs the receiver's steps from the raw body to the entry, in the order
/// and with the ownership of `Receiver::process`: the body is moved, never
/// copied, from the request into `Entry::detail`.
fn pipeline(input: &Input, body: Vec<u8>) -> Entry {
    let parsed = signature::parse_header(&input.header).expect("valid header");
    let settings = Verification {
        now: NOW,
        tolerance_secs: 300,
    };
    signature::verify(&parsed, &body, &input.secrets, settings).expect("signature matches");

    let body = body_string(body).expect("UTF-8 body");
    let envelope = parse_envelope(&body).expect("valid envelope");
    let entry = Entry::new(SOURCE, &envelope, body, None);
    assert!(entry.size() < 262_144, "entry fits without a pointer");
    entry
}

/// Builds the SDK request entry as `Forwarder::put` does for its first
/// attempt: `forward::request_entry`, then one clone.
fn sdk_entry(entry: &Entry) -> PutEventsRequestEntry {
    forward::request_entry("stripe", entry).clone()
}

/// HMAC-SHA256 of `t.body`, the part of the floor that verifies.
fn hmac_signed_payload(input: &Input) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key length");
    mac.update(input.timestamp_text.as_bytes());
    mac.update(b".");
    mac.update(input.body);
    mac.finalize().into_bytes().into()
}

/// Full validation of the body as JSON text, the part of the floor that
/// parses. The UTF-8 check comes first because serde_json 1.0's `from_slice`
/// does not check the bytes of strings it skips; it is simdutf8's, the
/// fastest check measured, as in the pipeline.
fn validate_json(body: &[u8]) {
    let text = simdutf8::basic::from_utf8(body).expect("UTF-8 body");
    serde_json::from_str::<IgnoredAny>(text).expect("valid JSON");
}

/// Names of the cases that `count` accepts, without the size suffix.
const CASES: [&str; 9] = [
    "body_copy",
    "floor",
    "hmac",
    "json_validate",
    "utf8",
    "verify",
    "parse_envelope",
    "pipeline",
    "pipeline_sdk_entry",
];

/// Runs case `name` on `input` once.
fn run_case(name: &str, input: &Input) {
    match name {
        "floor" => {
            black_box(hmac_signed_payload(input));
            validate_json(black_box(input.body));
        }
        "hmac" => {
            black_box(hmac_signed_payload(black_box(input)));
        }
        "json_validate" => validate_json(black_box(input.body)),
        "utf8" => {
            black_box(body_text(black_box(input.body)).is_ok());
        }
        "verify" => {
            let parsed = signature::parse_header(&input.header).expect("valid header");
            let settings = Verification {
                now: NOW,
                tolerance_secs: 300,
            };
            signature::verify(&parsed, black_box(input.body), &input.secrets, settings)
                .expect("signature matches");
        }
        "parse_envelope" => {
            let text = body_text(input.body).expect("UTF-8 body");
            black_box(parse_envelope(black_box(text)).expect("valid envelope"));
        }
        "pipeline" => {
            black_box(pipeline(input, input.body.to_vec()));
        }
        "pipeline_sdk_entry" => {
            let entry = pipeline(input, input.body.to_vec());
            black_box(sdk_entry(&entry));
        }
        "body_copy" => {
            black_box(input.body.to_vec());
        }
        other => panic!("unknown case {other:?}; run `pipeline cases` for the list"),
    }
}

fn bench_all<M: Measurement>(criterion: &mut Criterion<M>) {
    for input in inputs() {
        let mut group = criterion.benchmark_group(input.label);
        group.throughput(Throughput::Bytes(input.body.len() as u64));

        for name in [
            "floor",
            "hmac",
            "json_validate",
            "utf8",
            "verify",
            "parse_envelope",
        ] {
            group.bench_function(name, |b| b.iter(|| run_case(name, &input)));
        }
        // The owned body is made outside the timed part: the handler gets it
        // from the event without a copy.
        group.bench_function("pipeline", |b| {
            b.iter_batched(
                || input.body.to_vec(),
                |body| pipeline(&input, body),
                BatchSize::SmallInput,
            )
        });
        group.bench_function("pipeline_sdk_entry", |b| {
            b.iter_batched(
                || input.body.to_vec(),
                |body| sdk_entry(&pipeline(&input, body)),
                BatchSize::SmallInput,
            )
        });
        group.bench_function("body_copy", |b| b.iter(|| run_case("body_copy", &input)));
        group.finish();
    }
}

/// Runs `count CASE-SIZE N`, for example `count pipeline-100k 1000`.
fn count(case: &str, iterations: u64) {
    let (name, size) = case
        .rsplit_once('-')
        .unwrap_or_else(|| panic!("case {case:?} is not NAME-5k or NAME-100k"));
    let input = inputs()
        .into_iter()
        .find(|input| input.label == size)
        .unwrap_or_else(|| panic!("size {size:?} is not 5k or 100k"));
    for _ in 0..iterations {
        run_case(name, &input);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("cases") => {
            for name in CASES {
                println!("{name}-5k\n{name}-100k");
            }
        }
        Some("count") => {
            let case = args.get(1).expect("usage: pipeline count CASE N");
            let iterations = args
                .get(2)
                .and_then(|n| n.parse().ok())
                .expect("usage: pipeline count CASE N, with N a whole number");
            count(case, iterations);
        }
        _ => {
            run_criterion(bench_all, bench_all);
        }
    }
}

//! The forwarding budget against the Lambda deadline, with EventBridge
//! endpoints that never respond, fail fast or accept too late.
//!
//! The handler stops forwarding at the sooner of `FORWARD_TIMEOUT_MS` after
//! the start and the Lambda deadline less `DEADLINE_MARGIN`, and treats a
//! deadline already past at the start as unknown. So every invocation here
//! must end with a 503 after that budget and before the Lambda deadline.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lambda_runtime::Context;
use serde_json::json;
use stripe_eventbridge::handler::DEADLINE_MARGIN;
use stripe_eventbridge::request::WebhookRequest;
use support::stub::{Reply, StubEventBridge};
use support::{Encoding, event_body, http_api_event, read, receiver, request, sign};
use tokio::sync::{Barrier, Semaphore};

/// Time a response may come after its budget ends: building it, and the
/// scheduling delays of a busy machine.
const LATE_SLACK: Duration = Duration::from_millis(100);
/// Time a response may come before its budget ends: the forwarder starts no
/// attempt with less than 20 ms left.
const EARLY_SLACK: Duration = Duration::from_millis(30);

/// Cases timed at the same time.
const CASES_AT_ONCE: usize = 4;

/// The Lambda deadline an invocation carries.
#[derive(Debug, Clone, Copy)]
enum LambdaDeadline {
    /// No Lambda context on the request.
    Absent,
    /// This far after the invocation starts.
    In(Duration),
    /// Milliseconds since the Unix epoch, whatever the time now.
    AtEpochMs(u64),
    /// This long before the invocation starts.
    Ago(Duration),
}

#[derive(Debug, Clone, Copy)]
struct Case {
    name: &'static str,
    forward_timeout_ms: u64,
    deadline: LambdaDeadline,
    /// How long forwarding may run: the time the response is expected after.
    budget: Duration,
}

fn millis(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

fn unix_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("system clock after 1970")
}

/// Returns a signed delivery of `event_id` with no Lambda context yet.
fn delivery(event_id: &str) -> WebhookRequest {
    let body = event_body(event_id, "charge.succeeded");
    let headers = json!({"stripe-signature": sign(&body), "content-type": "application/json"});
    request(&http_api_event("POST", headers, &body, Encoding::Text))
}

/// Adds `deadline` to `request`, and returns the deadline as a point in time
/// when it is in the future.
fn with_deadline(
    request: WebhookRequest,
    deadline: LambdaDeadline,
) -> (WebhookRequest, Option<SystemTime>) {
    let deadline_ms = match deadline {
        LambdaDeadline::Absent => return (request, None),
        LambdaDeadline::In(remaining) => (unix_now() + remaining).as_millis() as u64,
        LambdaDeadline::AtEpochMs(ms) => ms,
        LambdaDeadline::Ago(past) => (unix_now() - past).as_millis() as u64,
    };
    let mut context = Context::default();
    context.deadline = deadline_ms;
    let lambda_deadline = context.deadline();
    let future = lambda_deadline > SystemTime::now();
    (
        request.with_deadline(lambda_deadline),
        future.then_some(lambda_deadline),
    )
}

/// Runs one case against an endpoint that gives `reply` to every request,
/// and returns a description of each broken expectation.
///
/// The case waits at `start` until every case has built its receiver, then
/// takes a slot from `slots` while it is timed, so that few cases compete for
/// the CPU at once.
async fn run(case: Case, reply: Reply, start: Arc<Barrier>, slots: Arc<Semaphore>) -> Vec<String> {
    let stub = StubEventBridge::start(vec![reply.clone()]).await;
    let forward_timeout = case.forward_timeout_ms.to_string();
    let receiver = receiver(&stub.url(), &[("FORWARD_TIMEOUT_MS", &forward_timeout)]).await;
    let request = delivery("evt_deadline");
    start.wait().await;
    let _slot = slots.acquire().await.expect("semaphore is never closed");

    let (request, lambda_deadline) = with_deadline(request, case.deadline);
    let started = Instant::now();
    let response = receiver.handle(request).await;
    let elapsed = started.elapsed();
    let finished = SystemTime::now();

    let name = format!(
        "{}: FORWARD_TIMEOUT_MS {}, {:?}, {reply:?}",
        case.name, case.forward_timeout_ms, case.deadline
    );
    let (status, body) = read(&response);
    let mut failures = Vec::new();
    if status != 503 {
        failures.push(format!("{name}: status {status}, expected 503: {body}"));
    }
    if body["error"] != "eventbridge_unavailable" {
        failures.push(format!(
            "{name}: error {}, expected eventbridge_unavailable",
            body["error"]
        ));
    }
    if lambda_deadline.is_some_and(|deadline| finished >= deadline) {
        failures.push(format!("{name}: answered after the Lambda deadline"));
    }
    if elapsed > case.budget + LATE_SLACK {
        failures.push(format!(
            "{name}: answered after {elapsed:?}; the budget is {:?}",
            case.budget
        ));
    }
    if elapsed + EARLY_SLACK < case.budget {
        failures.push(format!(
            "{name}: gave up after {elapsed:?}; the budget is {:?}",
            case.budget
        ));
    }
    failures
}

/// Runs the cases a few at a time, since each mostly waits, and fails with
/// every broken expectation.
async fn run_all(cases: Vec<(Case, Reply)>) {
    let start = Arc::new(Barrier::new(cases.len()));
    let slots = Arc::new(Semaphore::new(CASES_AT_ONCE));
    let tasks: Vec<_> = cases
        .into_iter()
        .map(|(case, reply)| tokio::spawn(run(case, reply, start.clone(), slots.clone())))
        .collect();
    let mut failures = Vec::new();
    for task in tasks {
        failures.extend(task.await.expect("case finishes"));
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Cases covering a deadline inside the margin, shorter and longer than the
/// forwarding timeout, and a deadline that is unknown or already past.
fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "deadline inside the margin answers at once",
            forward_timeout_ms: 5000,
            deadline: LambdaDeadline::In(millis(200)),
            budget: Duration::ZERO,
        },
        Case {
            name: "400 ms deadline, 5000 ms timeout",
            forward_timeout_ms: 5000,
            deadline: LambdaDeadline::In(millis(400)),
            budget: millis(150),
        },
        Case {
            name: "1 s deadline, 5000 ms timeout",
            forward_timeout_ms: 5000,
            deadline: LambdaDeadline::In(millis(1000)),
            budget: millis(750),
        },
        Case {
            name: "deadline exactly timeout plus margin",
            forward_timeout_ms: 500,
            deadline: LambdaDeadline::In(millis(750)),
            budget: millis(500),
        },
        Case {
            name: "template ratio scaled down: 1 s deadline, 500 ms timeout",
            forward_timeout_ms: 500,
            deadline: LambdaDeadline::In(millis(1000)),
            budget: millis(500),
        },
        Case {
            name: "3 s deadline, 1000 ms timeout",
            forward_timeout_ms: 1000,
            deadline: LambdaDeadline::In(millis(3000)),
            budget: millis(1000),
        },
        Case {
            name: "cargo lambda watch deadline of 600000 ms after the epoch",
            forward_timeout_ms: 400,
            deadline: LambdaDeadline::AtEpochMs(600_000),
            budget: millis(400),
        },
        Case {
            name: "deadline a second in the past",
            forward_timeout_ms: 400,
            deadline: LambdaDeadline::Ago(millis(1000)),
            budget: millis(400),
        },
        Case {
            name: "no Lambda context",
            forward_timeout_ms: 400,
            deadline: LambdaDeadline::Absent,
            budget: millis(400),
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hanging_endpoint_ends_before_deadline() {
    run_all(
        cases()
            .into_iter()
            .map(|case| (case, Reply::Hang))
            .collect(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadline_sweep_ends_in_budget() {
    // Remaining times from inside the margin to past every timeout, against
    // the smallest timeout `FORWARD_TIMEOUT_MS` allows and two larger ones.
    let mut sweep = Vec::new();
    for forward_timeout_ms in [100, 400, 900] {
        for remaining_ms in [100u64, 250, 260, 300, 500, 700, 1000, 1300] {
            let remaining = millis(remaining_ms);
            let case = Case {
                name: "sweep",
                forward_timeout_ms,
                deadline: LambdaDeadline::In(remaining),
                budget: millis(forward_timeout_ms).min(remaining.saturating_sub(DEADLINE_MARGIN)),
            };
            sweep.push((case, Reply::Hang));
        }
    }
    run_all(sweep).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_ends_before_deadline() {
    // Faults that fail fast make the forwarder retry until the budget ends.
    // A late acceptance is cut off at the deadline, like a hang.
    let faults = [
        Reply::FailEntry("ThrottlingException"),
        Reply::FailEntry("InternalFailure"),
        Reply::Error(400, "ThrottlingException"),
        Reply::Error(503, "ServiceUnavailable"),
        Reply::Reset,
        Reply::AcceptAfter(Duration::from_secs(30)),
        Reply::AcceptThenHang,
    ];
    let short = Case {
        name: "1 s deadline, 5000 ms timeout",
        forward_timeout_ms: 5000,
        deadline: LambdaDeadline::In(millis(1000)),
        budget: millis(750),
    };
    let unknown = Case {
        name: "cargo lambda watch deadline",
        forward_timeout_ms: 400,
        deadline: LambdaDeadline::AtEpochMs(600_000),
        budget: millis(400),
    };
    let mut all = Vec::new();
    for fault in faults {
        all.push((short, fault.clone()));
        all.push((unknown, fault));
    }
    run_all(all).await;
}

/// Checks the SAM template's own values, `Timeout: 10` and
/// `FORWARD_TIMEOUT_MS: 5000`. It takes 5 s, so it runs only when asked for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "takes 5 s; run with --ignored"]
async fn template_timeouts_end_before_deadline() {
    let case = Case {
        name: "10 s deadline, 5000 ms timeout",
        forward_timeout_ms: 5000,
        deadline: LambdaDeadline::In(Duration::from_secs(10)),
        budget: millis(5000),
    };
    run_all(vec![(case, Reply::Hang)]).await;
}

/// The DynamoDB calls of duplicate suppression and the S3 write of the claim
/// check are bounded too: a table or bucket that stops responding cannot keep
/// the invocation past the Lambda deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dedup_and_claim_check_end_before_deadline() {
    // The stub serves every AWS operation on one endpoint and takes the
    // replies of its script in arrival order.
    let oversize = {
        let body = event_body("evt_claim_deadline", "invoice.finalized");
        format!(
            r#"{},"pad":"{}"}}"#,
            &body[..body.len() - 1],
            "p".repeat(5000)
        )
    };
    let cases = [
        (
            "dedup PutItem hangs",
            vec![("DEDUP_TABLE", "stripe-dedup")],
            vec![Reply::Hang],
            event_body("evt_dedup_deadline", "charge.succeeded"),
        ),
        (
            "dedup PutItem answers, PutEvents and DeleteItem hang",
            vec![("DEDUP_TABLE", "stripe-dedup")],
            vec![Reply::Accept, Reply::Hang],
            event_body("evt_dedup_deadline", "charge.succeeded"),
        ),
        (
            "claim check PutObject hangs",
            vec![
                ("CLAIM_CHECK_BUCKET", "stripe-claims"),
                ("EVENTBRIDGE_MAX_ENTRY_BYTES", "4096"),
            ],
            vec![Reply::Hang],
            oversize,
        ),
    ];
    let mut failures = Vec::new();
    for (name, mut vars, script, body) in cases {
        let stub = StubEventBridge::start(script).await;
        vars.push(("FORWARD_TIMEOUT_MS", "5000"));
        let receiver = receiver(&stub.url(), &vars).await;
        let headers = json!({"stripe-signature": sign(&body), "content-type": "application/json"});
        let request = request(&http_api_event("POST", headers, &body, Encoding::Text));
        let (request, lambda_deadline) = with_deadline(request, LambdaDeadline::In(millis(1000)));
        let lambda_deadline = lambda_deadline.expect("deadline in the future");
        let outcome = tokio::time::timeout(Duration::from_secs(3), receiver.handle(request)).await;
        match outcome {
            Err(_) => failures.push(format!("{name}: no answer 3 s after the start")),
            Ok(_) if SystemTime::now() >= lambda_deadline => {
                failures.push(format!("{name}: answered after the Lambda deadline"));
            }
            Ok(response) => {
                let (status, body) = read(&response);
                if status != 503 {
                    failures.push(format!("{name}: status {status}: {body}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

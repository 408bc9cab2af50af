//! Stripe-style redelivery against an EventBridge stub that fails at random.
//!
//! The claim under test: no event is lost, and no 2xx is returned unless the
//! stub accepted the entry of that event. A driver plays Stripe. It delivers
//! each event, and after any non-2xx it delivers the event again later,
//! signed afresh, until a 2xx or [`MAX_DELIVERIES`] deliveries. Each PutEvents
//! request independently meets a fault with probability `RELIABILITY_FAULT_RATE`.
//!
//! Variables: `RELIABILITY_EVENTS` (default 300), `RELIABILITY_FAULT_RATE`
//! (default 0.35), `RELIABILITY_SEED`, `RELIABILITY_CONCURRENCY` (deliveries
//! in flight, default 16). The report goes to stderr as text and as one JSON
//! line, so run with `-- --nocapture` to see it:
//!
//! ```text
//! RELIABILITY_EVENTS=10000 cargo test --release --test reliability -- --nocapture
//! ```

mod support;

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lambda_runtime::Context;
use serde_json::{Value, json};
use stripe_eventbridge::handler::{Receiver, system_clock};
use stripe_eventbridge::request::WebhookRequest;
use stripe_eventbridge::signature::signature_header;
use support::stub::{Exchange, FaultPlan, Reply, StubEventBridge};
use support::{Encoding, SECRET, event_body, http_api_event, read, receiver, request};
use tokio::sync::Semaphore;

/// `FORWARD_TIMEOUT_MS` of the receiver. It is short because a hanging
/// request keeps its delivery waiting for the whole forwarding budget.
const FORWARD_TIMEOUT_MS: u64 = 400;

/// Deliveries of one event before the driver gives up on it, as Stripe does
/// when its retry window closes.
///
/// NOTE: Stripe publishes the window (3 days in live mode), not the number
/// of attempts. This bound is ours. With the default fault mix about one
/// delivery in ten failed in the runs in RELIABILITY.md, so sixteen failures
/// in a row are not expected.
const MAX_DELIVERIES: u32 = 16;

/// Pause before the first redelivery. It doubles after every failed delivery
/// up to [`REDELIVERY_CAP`]: Stripe's schedule of hours and days, compressed
/// to milliseconds.
const REDELIVERY_BASE: Duration = Duration::from_millis(5);
const REDELIVERY_CAP: Duration = Duration::from_millis(1000);

/// Faults with their relative weights. The weights are assumptions, not
/// measured rates: throttling and 5xx are common, non-retryable codes and
/// hangs rare.
fn fault_mix() -> Vec<(Reply, u32)> {
    vec![
        (Reply::Error(400, "ThrottlingException"), 14),
        (Reply::Error(500, "InternalException"), 10),
        (Reply::Error(503, "ServiceUnavailable"), 10),
        (Reply::FailEntry("InternalFailure"), 14),
        (Reply::FailEntry("ThrottlingException"), 14),
        (Reply::FailEntry("AccessDeniedException"), 3),
        (Reply::FailEntry("InvalidArgument"), 2),
        (Reply::Reset, 10),
        (Reply::AcceptThenReset, 6),
        (Reply::Hang, 2),
        (Reply::AcceptThenHang, 2),
    ]
}

/// Returns the report name of a reply.
fn reply_name(reply: &Reply) -> String {
    match reply {
        Reply::Accept => "accept".to_owned(),
        Reply::AcceptAfter(_) => "accept_after_pause".to_owned(),
        Reply::FailEntry(code) => format!("entry_{code}"),
        Reply::Error(status, kind) => format!("http_{status}_{kind}"),
        Reply::Reset => "reset".to_owned(),
        Reply::Hang => "hang".to_owned(),
        Reply::AcceptThenReset => "accept_then_reset".to_owned(),
        Reply::AcceptThenHang => "accept_then_hang".to_owned(),
    }
}

/// Reads a variable, or returns `default` when it is unset.
fn env_or<T: FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(text) => text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={text:?} is invalid")),
        Err(_) => default,
    }
}

fn unix_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("system clock after 1970")
}

/// Returns the pause before the delivery that follows failed delivery `delivery`.
fn redelivery_pause(delivery: u32) -> Duration {
    let ceiling = REDELIVERY_BASE
        .saturating_mul(1 << (delivery - 1).min(16))
        .min(REDELIVERY_CAP);
    // Half fixed, half random, so that events failed together spread out.
    let half_ms = ceiling.as_millis() as u64 / 2;
    Duration::from_millis(half_ms + fastrand::u64(0..=half_ms))
}

/// Builds one delivery of `body` signed at `timestamp`, with a Lambda deadline
/// twice the forwarding timeout away, the ratio of the SAM template (10 s and 5 s).
fn signed_request(body: &str, timestamp: u64) -> WebhookRequest {
    let headers = json!({
        "content-type": "application/json; charset=utf-8",
        "stripe-signature": signature_header(&[SECRET], timestamp, body.as_bytes()),
        "user-agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
    });
    let mut context = Context::default();
    context.deadline = unix_now().as_millis() as u64 + 2 * FORWARD_TIMEOUT_MS;
    request(&http_api_event("POST", headers, body, Encoding::Text))
        .with_deadline(context.deadline())
}

/// What the driver saw for one event.
#[derive(Debug, Default)]
struct Deliveries {
    /// The status of every delivery, in order.
    statuses: Vec<u16>,
    /// How long the receiver took with each delivery.
    durations: Vec<Duration>,
    /// The `eventbridge_event_id` of the 2xx response, if one came.
    acknowledged: Option<String>,
    /// The `id` of the 2xx response body.
    acknowledged_event_id: Option<String>,
}

/// Delivers one event until a 2xx or [`MAX_DELIVERIES`], pausing longer after
/// each failure. Takes a slot from `slots` only while a delivery is in flight.
async fn deliver(receiver: Arc<Receiver>, slots: Arc<Semaphore>, body: String) -> Deliveries {
    let mut deliveries = Deliveries::default();
    let mut last_timestamp = 0;
    for delivery in 1..=MAX_DELIVERIES {
        let slot = slots.acquire().await.expect("semaphore is never closed");
        // Stripe signs every attempt afresh with its send time. The compressed
        // schedule can send twice within one second, so the timestamp is kept
        // strictly increasing. It still stays within seconds of the receiver clock.
        let timestamp = unix_now().as_secs().max(last_timestamp + 1);
        last_timestamp = timestamp;
        let request = signed_request(&body, timestamp);
        let started = Instant::now();
        let response = receiver.handle(request).await;
        deliveries.durations.push(started.elapsed());
        drop(slot);

        let (status, response) = read(&response);
        deliveries.statuses.push(status);
        if (200..300).contains(&status) {
            deliveries.acknowledged = response["eventbridge_event_id"].as_str().map(str::to_owned);
            deliveries.acknowledged_event_id = response["id"].as_str().map(str::to_owned);
            break;
        }
        tokio::time::sleep(redelivery_pause(delivery)).await;
    }
    deliveries
}

/// Returns the Stripe event id inside an entry's `Detail`.
fn detail_event_id(exchange: &Exchange) -> Option<String> {
    let detail: Value = serde_json::from_str(exchange.detail()).ok()?;
    detail["id"].as_str().map(str::to_owned)
}

/// Returns at most 20 items of a failure list for the report.
fn sample(items: &[String]) -> Vec<&String> {
    items.iter().take(20).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redelivery_loses_no_event() {
    let events: usize = env_or("RELIABILITY_EVENTS", 300);
    let fault_rate: f64 = env_or("RELIABILITY_FAULT_RATE", 0.35);
    let seed: u64 = env_or("RELIABILITY_SEED", 20_260_101);
    let concurrency: usize = env_or("RELIABILITY_CONCURRENCY", 16);
    assert!(
        (0.0..1.0).contains(&fault_rate),
        "RELIABILITY_FAULT_RATE={fault_rate} must be from 0 to below 1"
    );
    assert!(
        concurrency > 0,
        "RELIABILITY_CONCURRENCY must be at least 1"
    );

    let stub = StubEventBridge::start_with_faults(FaultPlan {
        seed,
        fault_rate,
        faults: fault_mix(),
    })
    .await;
    let forward_timeout = FORWARD_TIMEOUT_MS.to_string();
    // The driver signs with the real time, so the receiver reads it too.
    let receiver = receiver(&stub.url(), &[("FORWARD_TIMEOUT_MS", &forward_timeout)])
        .await
        .with_clock(system_clock());
    let receiver = Arc::new(receiver);
    let slots = Arc::new(Semaphore::new(concurrency));

    let started = Instant::now();
    let bodies: Vec<(String, String)> = (0..events)
        .map(|i| {
            let id = format!("evt_rel_{i}");
            let body = event_body(&id, "payment_intent.succeeded");
            (id, body)
        })
        .collect();
    let tasks: Vec<_> = bodies
        .iter()
        .map(|(_, body)| tokio::spawn(deliver(receiver.clone(), slots.clone(), body.clone())))
        .collect();
    let mut results = Vec::with_capacity(events);
    for task in tasks {
        results.push(task.await.expect("delivery task finishes"));
    }
    let wall = started.elapsed();

    // What the stub did, by request and by Stripe event id.
    let exchanges = stub.exchanges();
    let mut faults: BTreeMap<String, usize> = BTreeMap::new();
    let mut accepted_by_event: HashMap<String, Vec<&Exchange>> = HashMap::new();
    let mut accepted_by_eventbridge_id: HashMap<&str, &Exchange> = HashMap::new();
    for exchange in &exchanges {
        if exchange.reply != Reply::Accept {
            *faults.entry(reply_name(&exchange.reply)).or_default() += 1;
        }
        if let Some(eventbridge_event_id) = &exchange.eventbridge_event_id {
            let event_id = detail_event_id(exchange).unwrap_or_default();
            accepted_by_event
                .entry(event_id)
                .or_default()
                .push(exchange);
            accepted_by_eventbridge_id.insert(eventbridge_event_id, exchange);
        }
    }

    // Every event on the bus with its body unchanged, and every 2xx backed by
    // an entry the stub accepted for that event with a reply that reached the
    // receiver.
    let mut lost = Vec::new();
    let mut altered = Vec::new();
    let mut exhausted = Vec::new();
    let mut unbacked = Vec::new();
    let mut unexpected_statuses = Vec::new();
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    let mut deliveries_per_event: BTreeMap<usize, usize> = BTreeMap::new();
    let mut acknowledged_ids = std::collections::HashSet::new();
    for ((id, body), deliveries) in bodies.iter().zip(&results) {
        for status in &deliveries.statuses {
            *statuses.entry(*status).or_default() += 1;
            if ![200, 502, 503].contains(status) {
                unexpected_statuses.push(format!("{id}: {status}"));
            }
        }
        *deliveries_per_event
            .entry(deliveries.statuses.len())
            .or_default() += 1;

        let accepted = accepted_by_event.get(id).map_or(&[][..], Vec::as_slice);
        if accepted.is_empty() {
            lost.push(id.clone());
        }
        if accepted.iter().any(|exchange| exchange.detail() != body) {
            altered.push(id.clone());
        }

        let Some(eventbridge_event_id) = &deliveries.acknowledged else {
            if deliveries
                .statuses
                .last()
                .is_some_and(|status| (200..300).contains(status))
            {
                unbacked.push(format!("{id}: 2xx without eventbridge_event_id"));
            } else {
                exhausted.push(format!("{id}: statuses {:?}", deliveries.statuses));
            }
            continue;
        };
        acknowledged_ids.insert(eventbridge_event_id.as_str());
        if deliveries.acknowledged_event_id.as_deref() != Some(id) {
            unbacked.push(format!(
                "{id}: 2xx names event {:?}",
                deliveries.acknowledged_event_id
            ));
        }
        match accepted_by_eventbridge_id.get(eventbridge_event_id.as_str()) {
            None => unbacked.push(format!(
                "{id}: 2xx with {eventbridge_event_id}, which the stub never accepted"
            )),
            Some(exchange) if detail_event_id(exchange).as_deref() != Some(id) => {
                unbacked.push(format!(
                    "{id}: 2xx with {eventbridge_event_id}, which holds event {:?}",
                    detail_event_id(exchange)
                ));
            }
            Some(exchange) if exchange.reply != Reply::Accept => unbacked.push(format!(
                "{id}: 2xx with {eventbridge_event_id}, whose reply was {:?}",
                exchange.reply
            )),
            Some(_) => {}
        }
    }

    // Duplicates on the bus and the accepted entries that no 2xx reported.
    let duplicate_events = accepted_by_event
        .values()
        .filter(|accepted| accepted.len() > 1)
        .count();
    let extra_entries: usize = accepted_by_event
        .values()
        .map(|accepted| accepted.len().saturating_sub(1))
        .sum();
    let mut accepted_without_2xx: BTreeMap<String, usize> = BTreeMap::new();
    for (eventbridge_event_id, exchange) in &accepted_by_eventbridge_id {
        if !acknowledged_ids.contains(eventbridge_event_id) {
            *accepted_without_2xx
                .entry(reply_name(&exchange.reply))
                .or_default() += 1;
        }
    }

    let deliveries: usize = results.iter().map(|d| d.statuses.len()).sum();
    let failed_deliveries =
        deliveries - results.iter().filter(|d| d.acknowledged.is_some()).count();
    let max_deliveries = results.iter().map(|d| d.statuses.len()).max().unwrap_or(0);
    let fault_requests: usize = faults.values().sum();
    let mut durations: Vec<Duration> = results
        .iter()
        .flat_map(|d| d.durations.iter().copied())
        .collect();
    durations.sort();
    let percentile_ms = |fraction: f64| {
        let index = ((durations.len() as f64 - 1.0) * fraction).round() as usize;
        durations.get(index).map_or(0, |d| d.as_millis() as u64)
    };
    let delivery_ms = json!({
        "p50": percentile_ms(0.5),
        "p99": percentile_ms(0.99),
        "max": percentile_ms(1.0),
    });
    let report = json!({
        "test": "reliability",
        "events": events,
        "fault_rate": fault_rate,
        "seed": seed,
        "concurrency": concurrency,
        "forward_timeout_ms": FORWARD_TIMEOUT_MS,
        "max_deliveries_allowed": MAX_DELIVERIES,
        "deliveries": deliveries,
        "redeliveries": deliveries - events,
        "failed_deliveries": failed_deliveries,
        "put_events_requests": exchanges.len(),
        "fault_requests": fault_requests,
        "faults": faults,
        "responses": statuses.iter().map(|(status, count)| (status.to_string(), *count)).collect::<BTreeMap<_, _>>(),
        "deliveries_per_event": deliveries_per_event.iter().map(|(n, count)| (n.to_string(), *count)).collect::<BTreeMap<_, _>>(),
        "max_deliveries_for_one_event": max_deliveries,
        "delivery_ms": delivery_ms,
        "events_on_bus": accepted_by_event.keys().filter(|id| !id.is_empty()).count(),
        "duplicate_events": duplicate_events,
        "duplicate_entries": extra_entries,
        "accepted_without_2xx": accepted_without_2xx,
        "lost": lost.len(),
        "exhausted": exhausted.len(),
        "unbacked_2xx": unbacked.len(),
        "altered": altered.len(),
        "wall_ms": wall.as_millis() as u64,
    });
    eprintln!(
        "reliability: {events} events, fault rate {fault_rate}, seed {seed}, {concurrency} in flight\n\
         deliveries {deliveries} ({} redeliveries, {failed_deliveries} failed), PutEvents requests {}, faults {fault_requests}\n\
         faults by kind {}\n\
         responses {}\n\
         deliveries per event {}, max {max_deliveries}; time per delivery in ms {}\n\
         duplicates on the bus: {duplicate_events} events, {extra_entries} extra entries; accepted without a 2xx {}\n\
         lost {}, exhausted {}, unbacked 2xx {}, altered {}; wall time {:.1} s",
        deliveries - events,
        exchanges.len(),
        report["faults"],
        report["responses"],
        report["deliveries_per_event"],
        report["delivery_ms"],
        report["accepted_without_2xx"],
        lost.len(),
        exhausted.len(),
        unbacked.len(),
        altered.len(),
        wall.as_secs_f64(),
    );
    eprintln!("{report}");

    assert!(
        lost.is_empty(),
        "events never on the bus: {:?}",
        sample(&lost)
    );
    assert!(
        unbacked.is_empty(),
        "2xx without an accepted entry: {:?}",
        sample(&unbacked)
    );
    assert!(
        exhausted.is_empty(),
        "events that used all {MAX_DELIVERIES} deliveries: {:?}",
        sample(&exhausted)
    );
    assert!(
        altered.is_empty(),
        "entries whose Detail differs from the body: {:?}",
        sample(&altered)
    );
    assert!(
        unexpected_statuses.is_empty(),
        "statuses other than 200, 502 and 503: {:?}",
        sample(&unexpected_statuses)
    );
    if fault_rate > 0.0 && events >= 100 {
        assert!(fault_requests > 0, "no fault was injected");
        assert!(deliveries > events, "no event was redelivered");
    }
}

//! The receiver against moto server on 127.0.0.1 through the real AWS SDK:
//! EventBridge rules with SQS targets, Secrets Manager rotation, the S3
//! claim check and DynamoDB duplicate suppression.
//!
//! `scripts/test` starts moto and sets `STRIPE_EVENTBRIDGE_MOTO_URL`. Without
//! it these tests print a note and pass, unless
//! `STRIPE_EVENTBRIDGE_REQUIRE_MOTO=1` makes its absence a failure.

mod support;

use std::time::Duration;

use aws_config::SdkConfig;
use serde_json::{Value, json};
use stripe_eventbridge::config::WebhookSecret;
use stripe_eventbridge::dedup::DedupTable;
use stripe_eventbridge::forward::{Forwarder, client_config};
use stripe_eventbridge::handler::{Receiver, Settings};
use stripe_eventbridge::secrets::{SecretStore, SecretsManagerFetcher};
use stripe_eventbridge::signature::signature_header;
use support::stub::{Reply, StubEventBridge};
use support::{
    Encoding, NOW, event_body, http_api_event, read, receiver, request, sdk_config, sign,
};

fn moto_url() -> Option<String> {
    match std::env::var("STRIPE_EVENTBRIDGE_MOTO_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("STRIPE_EVENTBRIDGE_REQUIRE_MOTO").as_deref() != Ok("1"),
                "STRIPE_EVENTBRIDGE_MOTO_URL is not set; run scripts/test, which starts moto"
            );
            eprintln!("skipped: STRIPE_EVENTBRIDGE_MOTO_URL is not set (scripts/test sets it)");
            None
        }
    }
}

/// Returns `name` with a random suffix, so tests sharing one moto server do not collide.
fn unique(name: &str) -> String {
    format!("{name}-{}", fastrand::u64(..))
}

fn headers(signature: &str) -> Value {
    json!({"content-type": "application/json", "stripe-signature": signature})
}

struct Bus {
    name: String,
    queue_url: String,
}

/// Creates a bus and one rule with `pattern` whose target is a new queue.
async fn bus_with_rule(config: &SdkConfig, pattern: Value) -> Bus {
    let events = aws_sdk_eventbridge::Client::new(config);
    let sqs = aws_sdk_sqs::Client::new(config);
    let name = unique("stripe");
    events
        .create_event_bus()
        .name(&name)
        .send()
        .await
        .expect("create bus");
    let queue_url = sqs
        .create_queue()
        .queue_name(unique("target"))
        .send()
        .await
        .expect("create queue")
        .queue_url()
        .unwrap()
        .to_owned();
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("queue attributes")
        .attributes()
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    events
        .put_rule()
        .name("example")
        .event_bus_name(&name)
        .event_pattern(pattern.to_string())
        .send()
        .await
        .expect("put rule");
    events
        .put_targets()
        .rule("example")
        .event_bus_name(&name)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("queue")
                .arn(queue_arn)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("put targets");
    Bus { name, queue_url }
}

/// Receives every message now on the queue, as parsed EventBridge events.
async fn drain(config: &SdkConfig, queue_url: &str) -> Vec<Value> {
    let sqs = aws_sdk_sqs::Client::new(config);
    let mut events = Vec::new();
    for _ in 0..3 {
        let output = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .expect("receive");
        for message in output.messages() {
            events.push(serde_json::from_str(message.body().unwrap()).expect("message is JSON"));
            sqs.delete_message()
                .queue_url(queue_url)
                .receipt_handle(message.receipt_handle().unwrap())
                .send()
                .await
                .expect("delete");
        }
    }
    events
}

#[tokio::test]
async fn rule_routes_signed_event_to_queue() {
    let Some(url) = moto_url() else { return };
    let config = sdk_config(&url).await;
    let pattern = json!({
        "source": ["stripe.com"],
        "detail-type": ["payment_intent.succeeded"],
        "detail": {"data": {"object": {"amount": [{"numeric": [">", 1000]}]}}}
    });
    let bus = bus_with_rule(&config, pattern).await;
    let receiver = receiver(&url, &[("EVENT_BUS_NAME", &bus.name)]).await;

    let body = event_body("evt_moto_1", "payment_intent.succeeded");
    let other = event_body("evt_moto_2", "charge.succeeded");
    for body in [&body, &other] {
        let event = http_api_event("POST", headers(&sign(body)), body, Encoding::Text);
        let (status, response) = read(&receiver.handle(request(&event)).await);
        assert_eq!(status, 200, "{response}");
    }

    let received = drain(&config, &bus.queue_url).await;
    assert_eq!(
        received.len(),
        1,
        "only the matching type arrives: {received:?}"
    );
    let event = &received[0];
    assert_eq!(event["detail-type"], "payment_intent.succeeded");
    assert_eq!(event["source"], "stripe.com");
    assert_eq!(
        event["time"], "2025-12-31T23:59:00Z",
        "time is created = NOW - 60"
    );
    let sent: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(event["detail"], sent);
}

#[tokio::test]
async fn pointer_entries_are_selectable_by_rule() {
    let Some(url) = moto_url() else { return };
    let config = sdk_config(&url).await;
    let bus = bus_with_rule(
        &config,
        json!({"detail": {"stripe_eventbridge": {"truncated": [true]}}}),
    )
    .await;
    let receiver = receiver(
        &url,
        &[
            ("EVENT_BUS_NAME", &bus.name),
            ("EVENTBRIDGE_MAX_ENTRY_BYTES", "4096"),
        ],
    )
    .await;
    let small = event_body("evt_small", "charge.succeeded");
    let large = format!(
        r#"{{"id":"evt_large","object":"event","type":"charge.succeeded","created":1,"data":{{"object":{{"id":"ch_1","object":"charge","pad":"{}"}}}}}}"#,
        "x".repeat(5000)
    );
    for body in [&small, &large] {
        let event = http_api_event("POST", headers(&sign(body)), body, Encoding::Text);
        let (status, response) = read(&receiver.handle(request(&event)).await);
        assert_eq!(status, 200, "{response}");
    }
    let received = drain(&config, &bus.queue_url).await;
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0]["detail"]["id"], "evt_large");
    assert_eq!(received[0]["detail"]["data"]["object"]["id"], "ch_1");
}

#[tokio::test]
async fn claim_check_stores_whole_event() {
    let Some(url) = moto_url() else { return };
    let config = sdk_config(&url).await;
    let bus = bus_with_rule(&config, json!({"source": ["stripe.com"]})).await;
    let bucket = unique("claims");
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    s3.create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("create bucket");
    let receiver = receiver(
        &url,
        &[
            ("EVENT_BUS_NAME", &bus.name),
            ("EVENTBRIDGE_MAX_ENTRY_BYTES", "4096"),
            ("CLAIM_CHECK_BUCKET", &bucket),
        ],
    )
    .await;
    let body = format!(
        r#"{{"id":"evt_claim","object":"event","type":"invoice.created","created":1,"data":{{"object":{{"id":"in_1","object":"invoice","memo":"{}"}}}}}}"#,
        "ü".repeat(4000)
    );
    let event = http_api_event("POST", headers(&sign(&body)), &body, Encoding::Text);
    let (status, response) = read(&receiver.handle(request(&event)).await);
    assert_eq!(status, 200, "{response}");

    let received = drain(&config, &bus.queue_url).await;
    assert_eq!(received.len(), 1);
    let claim = &received[0]["detail"]["stripe_eventbridge"]["claim_check"];
    assert_eq!(claim["bucket"], bucket.as_str());
    assert_eq!(claim["key"], "stripe-events/evt_claim.json");
    assert_eq!(claim["bytes"], body.len());
    let object = s3
        .get_object()
        .bucket(&bucket)
        .key("stripe-events/evt_claim.json")
        .send()
        .await
        .expect("object stored");
    assert_eq!(object.content_type(), Some("application/json"));
    let stored = object.body.collect().await.unwrap().into_bytes();
    assert_eq!(
        stored.as_ref(),
        body.as_bytes(),
        "stored object is the body byte for byte"
    );
    use sha2::Digest;
    assert_eq!(claim["sha256"], hex::encode(sha2::Sha256::digest(&stored)));
}

#[tokio::test]
async fn failed_claim_check_is_503_and_nothing_sent() {
    let Some(url) = moto_url() else { return };
    let config = sdk_config(&url).await;
    let bus = bus_with_rule(&config, json!({"source": ["stripe.com"]})).await;
    let receiver = receiver(
        &url,
        &[
            ("EVENT_BUS_NAME", &bus.name),
            ("EVENTBRIDGE_MAX_ENTRY_BYTES", "4096"),
            ("CLAIM_CHECK_BUCKET", &unique("missing-bucket")),
        ],
    )
    .await;
    let body = format!(
        r#"{{"id":"evt_noclaim","object":"event","type":"invoice.created","pad":"{}"}}"#,
        "x".repeat(5000)
    );
    let event = http_api_event("POST", headers(&sign(&body)), &body, Encoding::Text);
    let (status, response) = read(&receiver.handle(request(&event)).await);
    assert_eq!(status, 503, "{response}");
    assert_eq!(response["error"], "claim_check_failed");
    assert!(
        drain(&config, &bus.queue_url).await.is_empty(),
        "no pointer without the stored event"
    );
}

async fn secret_receiver(config: &SdkConfig, arn: &str, forwarder_url: &str) -> Receiver {
    let fetcher =
        SecretsManagerFetcher::new(aws_sdk_secretsmanager::Client::new(config), arn.to_owned());
    let secrets = SecretStore::fetched(fetcher)
        .await
        .expect("first fetch")
        .with_min_refresh_interval(Duration::ZERO);
    receiver_with_store(secrets, forwarder_url).await
}

async fn receiver_with_store(secrets: SecretStore, forwarder_url: &str) -> Receiver {
    let forward_config = sdk_config(forwarder_url).await;
    let forwarder = Forwarder::new(
        aws_sdk_eventbridge::Client::from_conf(client_config(
            &forward_config,
            Duration::from_secs(2),
        )),
        "stripe".to_owned(),
    );
    let settings = Settings {
        event_source: "stripe.com".to_owned(),
        tolerance_secs: 300,
        max_entry_bytes: 262_144,
        max_body_bytes: 1 << 20,
        forward_timeout: Duration::from_secs(2),
        allowed_sources: Default::default(),
    };
    Receiver::new(settings, secrets, forwarder).with_clock(std::sync::Arc::new(|| NOW))
}

#[tokio::test]
async fn rotated_secret_takes_effect_without_redeploy() {
    let Some(url) = moto_url() else { return };
    let config = sdk_config(&url).await;
    let stub = StubEventBridge::start(vec![Reply::Accept]).await;
    let secrets = aws_sdk_secretsmanager::Client::new(&config);
    let arn = secrets
        .create_secret()
        .name(unique("stripe-signing"))
        .secret_string("whsec_before_rotation")
        .send()
        .await
        .expect("create secret")
        .arn()
        .unwrap()
        .to_owned();
    let receiver = secret_receiver(&config, &arn, &stub.url()).await;
    assert_eq!(receiver.secrets().fetch_count(), 1);

    secrets
        .put_secret_value()
        .secret_id(&arn)
        .secret_string("whsec_before_rotation\nwhsec_after_rotation")
        .send()
        .await
        .expect("rotate");

    let body = event_body("evt_rotated", "charge.succeeded");
    let stale = signature_header(&["whsec_after_rotation"], NOW - 1000, body.as_bytes());
    let event = http_api_event("POST", headers(&stale), &body, Encoding::Text);
    let (status, _) = read(&receiver.handle(request(&event)).await);
    assert_eq!(status, 400);
    assert_eq!(
        receiver.secrets().fetch_count(),
        1,
        "a stale request triggers no fetch"
    );

    let fresh = signature_header(&["whsec_after_rotation"], NOW, body.as_bytes());
    let event = http_api_event("POST", headers(&fresh), &body, Encoding::Text);
    let (status, response) = read(&receiver.handle(request(&event)).await);
    assert_eq!(status, 200, "{response}");
    assert_eq!(receiver.secrets().fetch_count(), 2);
    let held: Vec<WebhookSecret> = receiver.secrets().current().to_vec();
    assert_eq!(held.len(), 2);
}

#[tokio::test]
async fn removed_secret_stops_working() {
    let Some(url) = moto_url() else { return };
    let config = sdk_config(&url).await;
    let stub = StubEventBridge::start(vec![Reply::Accept]).await;
    let secrets = aws_sdk_secretsmanager::Client::new(&config);
    let arn = secrets
        .create_secret()
        .name(unique("stripe-signing"))
        .secret_string("whsec_leaked,whsec_current")
        .send()
        .await
        .expect("create secret")
        .arn()
        .unwrap()
        .to_owned();
    let fetcher = SecretsManagerFetcher::new(secrets.clone(), arn.clone());
    let store = SecretStore::fetched(fetcher)
        .await
        .expect("first fetch")
        .with_min_refresh_interval(Duration::ZERO)
        .with_max_age(Duration::ZERO);
    let receiver = receiver_with_store(store, &stub.url()).await;
    let body = event_body("evt_leaked", "charge.succeeded");
    let leaked = signature_header(&["whsec_leaked"], NOW, body.as_bytes());
    let event = http_api_event("POST", headers(&leaked), &body, Encoding::Text);
    let (status, _) = read(&receiver.handle(request(&event)).await);
    assert_eq!(status, 200, "accepted while the secret is held");

    secrets
        .put_secret_value()
        .secret_id(&arn)
        .secret_string("whsec_current")
        .send()
        .await
        .expect("remove");
    let (status, response) = read(&receiver.handle(request(&event)).await);
    assert_eq!(
        status, 400,
        "rejected once the secret is old and fetched again: {response}"
    );
    assert_eq!(response["error"], "no_matching_signature");
}

#[tokio::test]
async fn refresh_is_rate_limited() {
    let Some(url) = moto_url() else { return };
    let config = sdk_config(&url).await;
    let secrets = aws_sdk_secretsmanager::Client::new(&config);
    let arn = secrets
        .create_secret()
        .name(unique("stripe-signing"))
        .secret_string("whsec_only")
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    let fetcher = SecretsManagerFetcher::new(secrets, arn);
    let store = SecretStore::fetched(fetcher).await.unwrap();
    // The fetch at init does not count towards the limit.
    store.refresh().await;
    assert_eq!(store.fetch_count(), 2, "first refresh after init fetches");
    for _ in 0..5 {
        assert!(!store.refresh().await);
    }
    assert_eq!(
        store.fetch_count(),
        2,
        "no fetch within 60 s of the last one"
    );
}

async fn dedup_table(config: &SdkConfig) -> String {
    let dynamodb = aws_sdk_dynamodb::Client::new(config);
    let name = unique("dedup");
    dynamodb
        .create_table()
        .table_name(&name)
        .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
        .attribute_definitions(
            aws_sdk_dynamodb::types::AttributeDefinition::builder()
                .attribute_name("event_id")
                .attribute_type(aws_sdk_dynamodb::types::ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            aws_sdk_dynamodb::types::KeySchemaElement::builder()
                .attribute_name("event_id")
                .key_type(aws_sdk_dynamodb::types::KeyType::Hash)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("create table");
    name
}

#[tokio::test]
async fn redelivery_is_suppressed() {
    let Some(url) = moto_url() else { return };
    let config = sdk_config(&url).await;
    let bus = bus_with_rule(&config, json!({"source": ["stripe.com"]})).await;
    let table = dedup_table(&config).await;
    let receiver = receiver(
        &url,
        &[("EVENT_BUS_NAME", &bus.name), ("DEDUP_TABLE", &table)],
    )
    .await;
    let body = event_body("evt_dup", "charge.succeeded");
    let mut first_id = Value::Null;
    for attempt in 0..3 {
        // Stripe signs every attempt afresh.
        let signature = signature_header(&[support::SECRET], NOW - attempt, body.as_bytes());
        let event = http_api_event("POST", headers(&signature), &body, Encoding::Text);
        let (status, response) = read(&receiver.handle(request(&event)).await);
        assert_eq!(status, 200, "attempt {attempt}: {response}");
        assert_eq!(response["duplicate"], attempt > 0, "attempt {attempt}");
        if attempt == 0 {
            first_id = response["eventbridge_event_id"].clone();
        } else {
            assert_eq!(
                response["eventbridge_event_id"], first_id,
                "attempt {attempt}"
            );
        }
    }
    assert_eq!(
        drain(&config, &bus.queue_url).await.len(),
        1,
        "one copy on the bus"
    );
}

#[tokio::test]
async fn failed_put_never_marks_delivered() {
    let Some(url) = moto_url() else { return };
    let config = sdk_config(&url).await;
    let table = dedup_table(&config).await;
    let stub = StubEventBridge::start(vec![
        Reply::FailEntry("AccessDeniedException"),
        Reply::Accept,
    ])
    .await;
    let receiver = dedup_receiver(&config, &table, &stub).await;
    let body = event_body("evt_failed_once", "charge.succeeded");
    let event = http_api_event("POST", headers(&sign(&body)), &body, Encoding::Text);
    let (status, _) = read(&receiver.handle(request(&event)).await);
    assert_eq!(status, 502);
    let (status, response) = read(&receiver.handle(request(&event)).await);
    assert_eq!(status, 200, "{response}");
    assert_eq!(
        response["duplicate"], false,
        "the failed attempt left no mark"
    );
    assert_eq!(stub.request_count(), 2);
}

#[tokio::test]
async fn concurrent_deliveries_are_not_both_suppressed() {
    let Some(url) = moto_url() else { return };
    let config = sdk_config(&url).await;
    let table = dedup_table(&config).await;
    let stub = StubEventBridge::start(vec![Reply::AcceptAfter(Duration::from_millis(300))]).await;
    let receiver = dedup_receiver(&config, &table, &stub).await;
    let body = event_body("evt_race", "charge.succeeded");
    let first = http_api_event("POST", headers(&sign(&body)), &body, Encoding::Text);
    let second = first.clone();
    let (a, b) = tokio::join!(
        receiver.handle(request(&first)),
        receiver.handle(request(&second))
    );
    let (status_a, response_a) = read(&a);
    let (status_b, response_b) = read(&b);
    assert_eq!((status_a, status_b), (200, 200));
    assert!(
        response_a["duplicate"] == false || response_b["duplicate"] == false,
        "one of them must forward: {response_a} {response_b}"
    );
    assert!(stub.request_count() >= 1);
}

async fn dedup_receiver(config: &SdkConfig, table: &str, stub: &StubEventBridge) -> Receiver {
    let secrets = SecretStore::fixed(vec![WebhookSecret::new(support::SECRET).unwrap()]);
    receiver_with_store(secrets, &stub.url())
        .await
        .with_dedup(DedupTable::new(
            aws_sdk_dynamodb::Client::new(config),
            table.to_owned(),
            Duration::from_secs(60),
        ))
}

//! Optional suppression of repeated deliveries, backed by DynamoDB.
//!
//! Stripe delivers at least once and redelivers after any non-2xx, so the
//! same event id can arrive many times. With `DEDUP_TABLE` set, the table
//! records each event id that reached the bus; a later delivery of that id
//! is answered 200 without a second PutEvents. The guarantee stays
//! at-least-once: repeats are suppressed when the table says "delivered",
//! never otherwise.
//!
//! - Before forwarding, a delivery reserves the id with a conditional write
//!   (`state = pending` and a lease).
//! - After PutEvents succeeds, the id is marked `delivered`.
//! - After PutEvents fails, the reservation is deleted, so a failed PutEvents
//!   never leaves the id marked as delivered.
//! - A delivery that finds the id pending (another delivery in flight, or one
//!   that died within its lease) forwards anyway: two concurrent deliveries
//!   are never both suppressed, at the cost of a possible duplicate.
//! - When the table cannot be read or written, the event is forwarded anyway
//!   and a warning is logged: the table only saves duplicates.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::AttributeValue;
use tokio::time::Instant;

use crate::forward::error_chain;

/// How long a delivered id is remembered: longer than Stripe's 3-day
/// retry window in live mode.
pub const DELIVERED_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// Partition key of the table.
pub const KEY_ATTRIBUTE: &str = "event_id";
/// TTL attribute of the table (epoch seconds).
pub const TTL_ATTRIBUTE: &str = "expires_at";

const STATE_PENDING: &str = "pending";
const STATE_DELIVERED: &str = "delivered";

/// The state of an event id before forwarding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    /// This delivery holds the id; it must settle it.
    Reserved,
    /// Another delivery holds the id, or the table is unavailable: forward
    /// without holding it.
    Unreserved,
    /// The event is already on the bus.
    AlreadyDelivered {
        /// The EventBridge event id recorded when it was delivered.
        eventbridge_event_id: Option<String>,
    },
}

/// The duplicate-suppression table.
#[derive(Debug, Clone)]
pub struct DedupTable {
    client: Client,
    table: String,
    lease: Duration,
}

impl DedupTable {
    /// Creates a table handle. `lease` bounds how long a reservation of a
    /// delivery that died blocks nothing but its own record.
    pub fn new(client: Client, table: String, lease: Duration) -> Self {
        Self {
            client,
            table,
            lease,
        }
    }

    /// Reserves `event_id` for this delivery, or finds it delivered. A table
    /// that does not answer before `deadline` counts as unavailable.
    pub async fn reserve(&self, event_id: &str, deadline: Instant) -> Reservation {
        match tokio::time::timeout_at(deadline, self.try_reserve(event_id)).await {
            Ok(reservation) => reservation,
            Err(_) => {
                tracing::warn!(
                    event_id,
                    "dedup table timed out; forwarding without suppression"
                );
                Reservation::Unreserved
            }
        }
    }

    async fn try_reserve(&self, event_id: &str) -> Reservation {
        let now = unix_now();
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(KEY_ATTRIBUTE, AttributeValue::S(event_id.to_owned()))
            .item("state", AttributeValue::S(STATE_PENDING.to_owned()))
            .item("lease_until", number(now + self.lease.as_secs()))
            .item(TTL_ATTRIBUTE, number(now + DELIVERED_TTL.as_secs()))
            .condition_expression(
                "attribute_not_exists(#key) OR (#state = :pending AND lease_until < :now)",
            )
            .expression_attribute_names("#key", KEY_ATTRIBUTE)
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":pending", AttributeValue::S(STATE_PENDING.to_owned()))
            .expression_attribute_values(":now", number(now))
            .send()
            .await;
        match put {
            Ok(_) => Reservation::Reserved,
            Err(error) if error.code() == Some("ConditionalCheckFailedException") => {
                self.read_state(event_id).await
            }
            Err(error) => {
                tracing::warn!(event_id, error = %error_chain(&error), "dedup table unavailable; forwarding without suppression");
                Reservation::Unreserved
            }
        }
    }

    async fn read_state(&self, event_id: &str) -> Reservation {
        let get = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(KEY_ATTRIBUTE, AttributeValue::S(event_id.to_owned()))
            .consistent_read(true)
            .send()
            .await;
        match get {
            Ok(output) => {
                let item = output.item();
                let state = item
                    .and_then(|item| item.get("state"))
                    .and_then(|value| value.as_s().ok());
                if state.map(String::as_str) == Some(STATE_DELIVERED) {
                    let eventbridge_event_id = item
                        .and_then(|item| item.get("eventbridge_event_id"))
                        .and_then(|value| value.as_s().ok())
                        .cloned();
                    Reservation::AlreadyDelivered {
                        eventbridge_event_id,
                    }
                } else {
                    tracing::debug!(
                        event_id,
                        "event id is pending in another delivery; forwarding"
                    );
                    Reservation::Unreserved
                }
            }
            Err(error) => {
                tracing::warn!(event_id, error = %error_chain(&error), "dedup table unavailable; forwarding without suppression");
                Reservation::Unreserved
            }
        }
    }

    /// Records the result of forwarding: `delivered` with the EventBridge id
    /// on success; on failure, releases a reservation this delivery holds.
    pub async fn settle(
        &self,
        event_id: &str,
        reservation: Reservation,
        eventbridge_event_id: Option<&String>,
    ) {
        match (eventbridge_event_id, reservation) {
            (Some(eventbridge_event_id), _) => {
                let now = unix_now();
                let update = self
                    .client
                    .update_item()
                    .table_name(&self.table)
                    .key(KEY_ATTRIBUTE, AttributeValue::S(event_id.to_owned()))
                    .update_expression(
                        "SET #state = :delivered, eventbridge_event_id = :id, #ttl = :ttl REMOVE lease_until",
                    )
                    .expression_attribute_names("#state", "state")
                    .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
                    .expression_attribute_values(
                        ":delivered",
                        AttributeValue::S(STATE_DELIVERED.to_owned()),
                    )
                    .expression_attribute_values(":id", AttributeValue::S(eventbridge_event_id.clone()))
                    .expression_attribute_values(":ttl", number(now + DELIVERED_TTL.as_secs()))
                    .send()
                    .await;
                if let Err(error) = update {
                    tracing::warn!(event_id, error = %error_chain(&error), "marking event delivered failed; a redelivery will be forwarded again");
                }
            }
            (None, Reservation::Reserved) => {
                let delete = self
                    .client
                    .delete_item()
                    .table_name(&self.table)
                    .key(KEY_ATTRIBUTE, AttributeValue::S(event_id.to_owned()))
                    .condition_expression("#state = :pending")
                    .expression_attribute_names("#state", "state")
                    .expression_attribute_values(
                        ":pending",
                        AttributeValue::S(STATE_PENDING.to_owned()),
                    )
                    .send()
                    .await;
                match delete {
                    Ok(_) => {}
                    Err(error) if error.code() == Some("ConditionalCheckFailedException") => {}
                    Err(error) => {
                        tracing::warn!(event_id, error = %error_chain(&error), "releasing dedup reservation failed; it expires with its lease");
                    }
                }
            }
            (None, _) => {}
        }
    }
}

fn number(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

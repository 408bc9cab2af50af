//! Storage of oversize events in S3 ("claim check").
//!
//! With `CLAIM_CHECK_BUCKET` set, an event whose entry is over the size cap is
//! written whole to S3 before its pointer entry is sent, and the pointer
//! carries the bucket, key, size and SHA-256 so that a consumer can fetch the
//! event and check it. The key is derived from the event id, so a redelivery
//! overwrites the same object with the same bytes.

use std::sync::OnceLock;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::{Client, Config};
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use crate::entry::ClaimCheck;
use crate::forward::error_chain;

/// Prefix of every claim-check object key.
pub const KEY_PREFIX: &str = "stripe-events/";

/// A failed write of an oversize event to S3.
#[derive(Debug, thiserror::Error)]
#[error("storing the oversize event in s3://{bucket}/{key} failed: {message}")]
pub struct ClaimCheckError {
    bucket: String,
    key: String,
    message: String,
}

/// Writes oversize events to one S3 bucket.
#[derive(Debug, Clone)]
pub struct ClaimCheckStore {
    config: Config,
    client: OnceLock<Client>,
    bucket: String,
}

impl ClaimCheckStore {
    /// Creates a store writing to `bucket` through `client`.
    pub fn new(client: Client, bucket: String) -> Self {
        Self {
            config: client.config().clone(),
            client: OnceLock::from(client),
            bucket,
        }
    }

    /// Creates a store that builds its client from `config` on the first
    /// oversize event.
    ///
    /// Building an S3 client sets up a TLS configuration from every system
    /// root certificate, a fixed cost at init that most functions, which
    /// never see an event over the cap, have no use for.
    pub fn lazy(config: Config, bucket: String) -> Self {
        Self {
            config,
            client: OnceLock::new(),
            bucket,
        }
    }

    fn client(&self) -> &Client {
        self.client
            .get_or_init(|| Client::from_conf(self.config.clone()))
    }

    /// Writes `body` as the object for `event_id` and describes where it is.
    ///
    /// # Errors
    ///
    /// Returns [`ClaimCheckError`] when S3 does not accept the object before
    /// `deadline`; the caller must then answer 5xx so that Stripe delivers
    /// the event again.
    pub async fn put(
        &self,
        event_id: &str,
        body: &str,
        deadline: Instant,
    ) -> Result<ClaimCheck, ClaimCheckError> {
        let key = object_key(event_id);
        let sha256 = hex::encode(Sha256::digest(body.as_bytes()));
        let request = self
            .client()
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .content_type("application/json")
            .metadata("sha256", &sha256)
            .body(ByteStream::from(body.as_bytes().to_vec()))
            .send();
        let message = match tokio::time::timeout_at(deadline, request).await {
            Ok(Ok(_)) => None,
            Ok(Err(error)) => Some(error_chain(&error)),
            Err(_) => Some("timed out at the forwarding deadline".to_owned()),
        };
        if let Some(message) = message {
            return Err(ClaimCheckError {
                bucket: self.bucket.clone(),
                key,
                message,
            });
        }
        Ok(ClaimCheck {
            bucket: self.bucket.clone(),
            key,
            bytes: body.len(),
            sha256,
        })
    }
}

/// Derives the object key for an event id.
///
/// Stripe event ids are letters, digits and underscores. Any other id is
/// replaced by its SHA-256 so that no id can form another path.
pub fn object_key(event_id: &str) -> String {
    let plain = !event_id.is_empty()
        && event_id.len() <= 255
        && event_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if plain {
        format!("{KEY_PREFIX}{event_id}.json")
    } else {
        let digest = hex::encode(Sha256::digest(event_id.as_bytes()));
        format!("{KEY_PREFIX}sha256-{digest}.json")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_id_keeps_its_name() {
        assert_eq!(object_key("evt_1QxYz"), "stripe-events/evt_1QxYz.json");
    }

    #[test]
    fn unusual_id_is_hashed() {
        for id in ["../etc/passwd", "evt 1", "", "a/b", "évt"] {
            let key = object_key(id);
            assert!(
                key.starts_with("stripe-events/sha256-"),
                "id {id:?} gave {key}"
            );
            assert_eq!(
                key.len(),
                "stripe-events/sha256-".len() + 64 + ".json".len()
            );
        }
    }
}

//! The signing secrets held by the receiver, and their refresh from AWS
//! Secrets Manager after a rotation.
//!
//! With `STRIPE_WEBHOOK_SECRET_ARN`, the secret string holds one or more
//! `whsec_…` secrets separated by commas or newlines. It is fetched at init.
//! When an authentic-looking request matches no held secret, the handler asks
//! for a refresh, which fetches the secret again at most once per
//! [`MIN_REFRESH_INTERVAL`], so a rotated secret takes effect without a
//! redeploy and forged requests cannot drive Secrets Manager calls. The
//! fetch at init does not count towards that limit, so a secret stored just
//! after a deploy is picked up by the first delivery that needs it.
//!
//! Held secrets are also fetched again once they are older than
//! [`MAX_SECRET_AGE`], so that a secret removed from Secrets Manager (a leaked
//! one, say) stops being accepted by warm instances within minutes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::Client as SecretsManagerClient;
use tokio::sync::Mutex;

use crate::config::{
    ConfigError, SecretSource, WebhookSecret, parse_secret_list, secret_list_error,
};

/// Shortest time between two fetches of the secret.
pub const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(60);

/// Age after which held secrets are fetched again before the next check.
pub const MAX_SECRET_AGE: Duration = Duration::from_secs(300);

/// A failed fetch of the signing secret. Never carries the secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretFetchError {
    /// The Secrets Manager call failed.
    #[error("GetSecretValue for {arn} failed: {message}")]
    Request {
        /// The secret's ARN or name.
        arn: String,
        /// The SDK's error, with its chain of sources.
        message: String,
    },
    /// The secret has no string value.
    #[error("secret {arn} has no SecretString; store the whsec_... secrets as text")]
    NotString {
        /// The secret's ARN or name.
        arn: String,
    },
    /// The secret string is not a list of signing secrets.
    #[error("secret {arn}: {source}")]
    Invalid {
        /// The secret's ARN or name.
        arn: String,
        /// What is wrong with the list.
        source: ConfigError,
    },
}

/// A fetcher of the signing secret from Secrets Manager.
#[derive(Debug, Clone)]
pub struct SecretsManagerFetcher {
    client: SecretsManagerClient,
    arn: String,
}

impl SecretsManagerFetcher {
    /// Creates a fetcher of the secret `arn` (an ARN or a name).
    pub fn new(client: SecretsManagerClient, arn: String) -> Self {
        Self { client, arn }
    }

    /// Fetches and parses the current secret list.
    ///
    /// # Errors
    ///
    /// Returns [`SecretFetchError`] when the call fails or the value is not a
    /// list of `whsec_…` secrets.
    pub async fn fetch(&self) -> Result<Vec<WebhookSecret>, SecretFetchError> {
        let output = self
            .client
            .get_secret_value()
            .secret_id(&self.arn)
            .send()
            .await
            .map_err(|error| SecretFetchError::Request {
                arn: self.arn.clone(),
                message: crate::forward::error_chain(&error),
            })?;
        let text = output
            .secret_string()
            .ok_or_else(|| SecretFetchError::NotString {
                arn: self.arn.clone(),
            })?;
        parse_secret_list(text).map_err(|(position, problem)| SecretFetchError::Invalid {
            arn: self.arn.clone(),
            source: secret_list_error("STRIPE_WEBHOOK_SECRET_ARN", position, problem),
        })
    }
}

/// The current set of signing secrets, refreshable when fetched from AWS.
#[derive(Debug)]
pub struct SecretStore {
    current: RwLock<Arc<[WebhookSecret]>>,
    loaded_at: RwLock<Instant>,
    fetcher: Option<SecretsManagerFetcher>,
    last_fetch: Mutex<Option<Instant>>,
    min_refresh_interval: Duration,
    max_age: Duration,
    fetches: AtomicU64,
}

impl SecretStore {
    /// Creates a store of fixed secrets.
    pub fn fixed(secrets: Vec<WebhookSecret>) -> Self {
        Self {
            current: RwLock::new(secrets.into()),
            loaded_at: RwLock::new(Instant::now()),
            fetcher: None,
            last_fetch: Mutex::new(None),
            min_refresh_interval: MIN_REFRESH_INTERVAL,
            max_age: MAX_SECRET_AGE,
            fetches: AtomicU64::new(0),
        }
    }

    /// Creates a store by fetching the secret once.
    ///
    /// # Errors
    ///
    /// Returns [`SecretFetchError`] when the first fetch fails; the receiver
    /// cannot verify anything without it.
    pub async fn fetched(fetcher: SecretsManagerFetcher) -> Result<Self, SecretFetchError> {
        let secrets = fetcher.fetch().await?;
        Ok(Self {
            current: RwLock::new(secrets.into()),
            loaded_at: RwLock::new(Instant::now()),
            fetcher: Some(fetcher),
            last_fetch: Mutex::new(None),
            min_refresh_interval: MIN_REFRESH_INTERVAL,
            max_age: MAX_SECRET_AGE,
            fetches: AtomicU64::new(1),
        })
    }

    /// Creates the store a configuration asks for.
    ///
    /// # Errors
    ///
    /// Returns [`SecretFetchError`] when the secret must be fetched and the
    /// fetch fails.
    pub async fn from_source(
        source: &SecretSource,
        client: impl FnOnce() -> SecretsManagerClient,
    ) -> Result<Self, SecretFetchError> {
        match source {
            SecretSource::Inline(secrets) => Ok(Self::fixed(secrets.clone())),
            SecretSource::SecretsManager { arn } => {
                Self::fetched(SecretsManagerFetcher::new(client(), arn.clone())).await
            }
        }
    }

    /// Sets the shortest time between two fetches (tests use a short one).
    pub fn with_min_refresh_interval(mut self, interval: Duration) -> Self {
        self.min_refresh_interval = interval;
        self
    }

    /// Sets the age after which held secrets are fetched again.
    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// Returns the secrets held now.
    pub fn current(&self) -> Arc<[WebhookSecret]> {
        // A poisoned lock still holds a valid list: writers only swap an Arc.
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Returns how many fetches were made, the first one included.
    pub fn fetch_count(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// Returns whether the secrets can be fetched again.
    pub fn is_refreshable(&self) -> bool {
        self.fetcher.is_some()
    }

    /// Fetches the secret again when the held secrets are older than the
    /// maximum age ([`MAX_SECRET_AGE`] unless set), within the same rate limit as [`Self::refresh`].
    pub async fn refresh_if_old(&self) {
        let loaded_at = *self
            .loaded_at
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.fetcher.is_some() && loaded_at.elapsed() > self.max_age {
            self.refresh().await;
        }
    }

    /// Fetches the secret again unless the last refresh was too recent.
    ///
    /// Returns `true` when a fetch happened and changed the held secrets. A
    /// failed fetch is logged and keeps the held secrets.
    pub async fn refresh(&self) -> bool {
        let Some(fetcher) = &self.fetcher else {
            return false;
        };
        let mut last_fetch = self.last_fetch.lock().await;
        if last_fetch.is_some_and(|at| at.elapsed() < self.min_refresh_interval) {
            tracing::debug!("secret refresh skipped: fetched less than the minimum interval ago");
            return false;
        }
        *last_fetch = Some(Instant::now());
        self.fetches.fetch_add(1, Ordering::Relaxed);
        match fetcher.fetch().await {
            Ok(secrets) => {
                let mut current = self
                    .current
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let changed = current.as_ref() != secrets.as_slice();
                *current = secrets.into();
                *self
                    .loaded_at
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Instant::now();
                tracing::info!(changed, count = current.len(), "signing secrets refreshed");
                changed
            }
            Err(error) => {
                tracing::error!(error = %error, "signing secret refresh failed");
                false
            }
        }
    }
}

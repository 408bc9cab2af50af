//! Assembly of a [`Receiver`] from a [`Config`] and the shared AWS settings.
//!
//! Every AWS client is built here once and reused by every invocation, so
//! that connections stay open between them. All are built at init except
//! the S3 client, which only oversize events need.

use std::time::Duration;

use aws_config::environment::{
    EnvironmentVariableCredentialsProvider, EnvironmentVariableRegionProvider,
};
use aws_config::{BehaviorVersion, SdkConfig};

use crate::claim_check::ClaimCheckStore;
use crate::config::Config;
use crate::dedup::DedupTable;
use crate::forward::{self, Forwarder};
use crate::handler::{Receiver, Settings};
use crate::metrics::MetricsSink;
use crate::secrets::{SecretFetchError, SecretStore};

/// Extra time a dedup reservation is held beyond the forwarding timeout.
const DEDUP_LEASE_MARGIN: Duration = Duration::from_secs(60);

/// Loads the shared AWS settings from the environment.
///
/// Lambda always sets `AWS_REGION` and the execution role's credentials in
/// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`, which the default chains
/// would pick first anyway. Taking them directly skips building the other
/// providers, such as web identity with its own STS client, and each client
/// built costs a TLS setup from every system root certificate. Without
/// those variables (a laptop with a profile, say) the default chains run.
pub async fn load_sdk_config() -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if std::env::var_os("AWS_REGION").is_some_and(|region| !region.is_empty()) {
        loader = loader.region(EnvironmentVariableRegionProvider::new());
    }
    let has_keys = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
        .iter()
        .all(|name| std::env::var_os(name).is_some_and(|value| !value.is_empty()));
    if has_keys {
        loader = loader.credentials_provider(EnvironmentVariableCredentialsProvider::new());
    }
    loader.load().await
}

/// Builds the receiver: AWS clients, the first fetch of the secret, and the
/// optional claim check and duplicate suppression.
///
/// # Errors
///
/// Returns [`SecretFetchError`] when the secret must be fetched and cannot be.
pub async fn build_receiver(
    config: &Config,
    sdk_config: &SdkConfig,
    metrics: MetricsSink,
) -> Result<Receiver, SecretFetchError> {
    let eventbridge = aws_sdk_eventbridge::Client::from_conf(forward::client_config(
        sdk_config,
        config.forward_timeout,
    ));
    let forwarder = Forwarder::new(eventbridge, config.event_bus_name.clone());

    // Side calls get the same bound as PutEvents; the handler also cuts
    // them off at each request's own deadline.
    let timeouts = forward::timeouts(config.forward_timeout);
    let secrets = SecretStore::from_source(&config.secrets, || {
        aws_sdk_secretsmanager::Client::from_conf(
            aws_sdk_secretsmanager::config::Builder::from(sdk_config)
                .timeout_config(timeouts.clone())
                .build(),
        )
    })
    .await?;

    let mut receiver =
        Receiver::new(Settings::from(config), secrets, forwarder).with_metrics(metrics);

    if let Some(bucket) = &config.claim_check_bucket {
        // A custom endpoint (a local emulator) cannot serve bucket names as
        // host names, so address buckets by path there.
        let s3_config = aws_sdk_s3::config::Builder::from(sdk_config)
            .force_path_style(sdk_config.endpoint_url().is_some())
            .timeout_config(timeouts.clone())
            .build();
        receiver = receiver.with_claim_check(ClaimCheckStore::lazy(s3_config, bucket.clone()));
    }
    if let Some(table) = &config.dedup_table {
        let client = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(sdk_config)
                .timeout_config(timeouts.clone())
                .build(),
        );
        let lease = config.forward_timeout + DEDUP_LEASE_MARGIN;
        receiver = receiver.with_dedup(DedupTable::new(client, table.clone(), lease));
    }
    Ok(receiver)
}

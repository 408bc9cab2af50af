//! Assembly of a [`Receiver`] from a [`Config`] and the shared AWS settings.
//!
//! Every AWS client is built here once, at init, and reused by every
//! invocation so that connections stay open between them.

use std::time::Duration;

use aws_config::SdkConfig;

use crate::claim_check::ClaimCheckStore;
use crate::config::Config;
use crate::dedup::DedupTable;
use crate::forward::{self, Forwarder};
use crate::handler::{Receiver, Settings};
use crate::metrics::MetricsSink;
use crate::secrets::{SecretFetchError, SecretStore};

/// Extra time a dedup reservation is held beyond the forwarding timeout.
const DEDUP_LEASE_MARGIN: Duration = Duration::from_secs(60);

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
        let client = aws_sdk_s3::Client::from_conf(s3_config);
        receiver = receiver.with_claim_check(ClaimCheckStore::new(client, bucket.clone()));
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

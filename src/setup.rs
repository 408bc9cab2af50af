//! Assembly of a [`Receiver`] from a [`Config`] and the shared AWS settings.
//!
//! Every AWS client is built here once and reused by every invocation, so
//! that connections stay open between them. All are built at init except
//! the S3 client, which only oversize events need.

use std::path::PathBuf;
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

/// The system certificate bundle to read root certificates from, when the
/// caller should point `SSL_CERT_FILE` at it.
///
/// rustls-native-certs loads the roots of the SDK's HTTPS client. With
/// neither `SSL_CERT_FILE` nor `SSL_CERT_DIR` set, it reads the bundle, then
/// parses every file of the system's certificate directory too. On Debian
/// that is 147 files and about 40 % of init time (BENCHMARKS.md, figure 4). The
/// distributions' tools (`update-ca-certificates`, `update-ca-trust`) write
/// the bundle and the directory from the same sources, so the bundle alone
/// contains the same roots. `bundle` is the file the loader itself would pick
/// (`openssl_probe::probe`), and an empty file is not used.
///
/// Returns `None`, leaving the loader as it is, when either variable is set
/// (`is_set` tells), or when no usable bundle is found.
pub fn certificate_bundle(
    is_set: impl Fn(&str) -> bool,
    bundle: impl FnOnce() -> Option<PathBuf>,
) -> Option<PathBuf> {
    if is_set("SSL_CERT_FILE") || is_set("SSL_CERT_DIR") {
        return None;
    }
    bundle()
        .filter(|path| std::fs::metadata(path).is_ok_and(|meta| meta.is_file() && meta.len() > 0))
}

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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// A file in the system temporary directory, removed on drop.
    struct TempFile(PathBuf);

    impl TempFile {
        fn with_contents(contents: &[u8]) -> Self {
            let name = format!(
                "stripe-eventbridge-bundle-{}-{}",
                std::process::id(),
                fastrand::u64(..)
            );
            let path = std::env::temp_dir().join(name);
            std::fs::write(&path, contents).expect("temporary file is written");
            Self(path)
        }

        fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    const PEM_START: &[u8] = b"-----BEGIN CERTIFICATE-----\n";

    #[test]
    fn bundle_is_used_when_neither_variable_is_set() {
        let file = TempFile::with_contents(PEM_START);
        let chosen = certificate_bundle(|_| false, || Some(file.path().to_owned()));
        assert_eq!(chosen.as_deref(), Some(file.path()));
    }

    #[test]
    fn either_variable_leaves_the_loader_alone() {
        let file = TempFile::with_contents(PEM_START);
        for name in ["SSL_CERT_FILE", "SSL_CERT_DIR"] {
            let chosen = certificate_bundle(|var| var == name, || Some(file.path().to_owned()));
            assert_eq!(chosen, None, "{name} is set");
        }
    }

    #[test]
    fn missing_empty_or_directory_bundle_is_not_used() {
        assert_eq!(certificate_bundle(|_| false, || None), None);
        let empty = TempFile::with_contents(b"");
        assert_eq!(
            certificate_bundle(|_| false, || Some(empty.path().to_owned())),
            None
        );
        let missing = std::env::temp_dir().join("stripe-eventbridge-no-such-bundle");
        assert_eq!(certificate_bundle(|_| false, || Some(missing)), None);
        assert_eq!(
            certificate_bundle(|_| false, || Some(std::env::temp_dir())),
            None
        );
    }
}

//! The Lambda binary: reads the configuration, builds the AWS clients once
//! and serves API Gateway, HTTP API, Function URL and load balancer requests.
//!
//! Events go straight from the runtime into [`WebhookRequest`], which reads
//! only the fields the receiver uses. The conversion of every event into an
//! `http::Request` by lambda_http took a quarter of each warm invocation's
//! CPU time (BENCHMARKS.md).
//!
//! Before the tokio runtime starts, `SSL_CERT_FILE` is pointed at the
//! system's certificate bundle unless it or `SSL_CERT_DIR` is already set,
//! so that the SDK's HTTPS client loads its roots from that one file
//! (see [`certificate_bundle`]).

use std::path::PathBuf;
use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use stripe_eventbridge::config::Config;
use stripe_eventbridge::metrics::MetricsSink;
use stripe_eventbridge::request::WebhookRequest;
use stripe_eventbridge::setup::{build_receiver, certificate_bundle, load_sdk_config};

fn main() -> Result<(), Error> {
    keep_freed_memory();
    let bundle = certificate_bundle(
        |name| std::env::var_os(name).is_some(),
        || openssl_probe::probe().cert_file,
    );
    if let Some(path) = &bundle {
        // SAFETY: no other thread exists yet. This is the process's first
        // step, and the single-threaded runtime is built below.
        unsafe { std::env::set_var("SSL_CERT_FILE", path) };
    }
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(run(bundle))
}

/// Makes glibc's allocator keep freed memory for the next invocation.
///
/// With its defaults, glibc gives free memory at the top of the heap back to
/// the kernel once more than 128 KiB of it is free, a limit it moves as
/// large blocks are freed. A 100 KB event frees its buffers at the end of
/// each invocation, so the next one faults the same pages in again: page
/// faults and `brk` took about 12 % of a 100 KB invocation's CPU
/// (BENCHMARKS.md).
/// Fixed limits keep up to 8 MiB of free heap, and blocks of 1 MiB or more
/// (only oversize requests) still come from `mmap` and go back at once.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_freed_memory() {
    // SAFETY: mallopt only sets allocator parameters; nothing is allocated
    // yet by any other thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 8 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_freed_memory() {}

/// Initialises the function, then serves events until the runtime stops.
async fn run(bundle: Option<PathBuf>) -> Result<(), Error> {
    // Honours AWS_LAMBDA_LOG_LEVEL, RUST_LOG and AWS_LAMBDA_LOG_FORMAT=JSON.
    stripe_eventbridge::logging::init();

    let config = Config::from_env().inspect_err(|error| {
        tracing::error!(error = %error, "invalid configuration");
    })?;
    let sdk_config = load_sdk_config().await;
    let metrics = MetricsSink::stdout(&config.event_bus_name);
    let receiver = build_receiver(&config, &sdk_config, metrics)
        .await
        .inspect_err(|error| tracing::error!(error = %error, "init failed"))?;
    let receiver = Arc::new(receiver);
    tracing::info!(
        event_bus = %config.event_bus_name,
        source = %config.event_source,
        claim_check = config.claim_check_bucket.is_some(),
        dedup = config.dedup_table.is_some(),
        source_allowlist = !config.allowed_sources.is_empty(),
        certificate_bundle = bundle.as_ref().map(|path| path.display().to_string()),
        "receiver ready"
    );

    lambda_runtime::run(service_fn(move |event: LambdaEvent<WebhookRequest>| {
        let receiver = Arc::clone(&receiver);
        let request = event.payload.with_deadline(event.context.deadline());
        async move { Ok::<_, Error>(receiver.handle(request).await) }
    }))
    .await
}

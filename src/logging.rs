//! Log setup: the Lambda runtime's defaults, minus its payload dump.
//!
//! Like `lambda_runtime::tracing::init_default_subscriber`, the level comes from
//! `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else INFO, and
//! `AWS_LAMBDA_LOG_FORMAT=JSON` selects JSON lines. One difference: at TRACE,
//! lambda_runtime 1.5 logs every raw invocation event, which holds the
//! `Stripe-Signature` header and the body, so its `api_response` layer is
//! held at DEBUG whatever the configured level.

use std::str::FromStr;

use lambda_runtime::tracing::subscriber::filter::{Directive, EnvFilter, LevelFilter};
use lambda_runtime::tracing::subscriber::fmt::MakeWriter;

/// Target of lambda_runtime's "raw JSON event received" TRACE line.
const RUNTIME_PAYLOAD_TARGET: &str = "lambda_runtime::layers::api_response";

/// Builds the filter for a configured level text (`None` means INFO).
pub fn filter(level: Option<&str>, rust_log: Option<&str>) -> EnvFilter {
    let level = LevelFilter::from_str(level.unwrap_or("INFO")).unwrap_or(LevelFilter::INFO);
    let mut filter = EnvFilter::builder()
        .with_default_directive(level.into())
        .parse_lossy(rust_log.unwrap_or_default());
    let payload_cap = level.min(LevelFilter::DEBUG);
    // `add_directive` replaces any directive for the same target, so a
    // RUST_LOG asking for the runtime at TRACE is capped too.
    if let Ok(directive) = Directive::from_str(&format!("{RUNTIME_PAYLOAD_TARGET}={payload_cap}")) {
        filter = filter.add_directive(directive);
    }
    filter
}

/// Installs the global subscriber, writing to `writer`.
pub fn init_with_writer<W>(writer: W)
where
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok();
    // RUST_LOG may hold per-target directives; AWS_LAMBDA_LOG_LEVEL is one level.
    let directives = std::env::var("RUST_LOG").ok();
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let builder = lambda_runtime::tracing::subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_env_filter(filter(level.as_deref(), directives.as_deref()))
        .with_writer(writer);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Installs the global subscriber, writing to standard output.
pub fn init() {
    init_with_writer(std::io::stdout);
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_runtime::tracing::subscriber::layer::SubscriberExt;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Capture {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn logged(level: Option<&str>, rust_log: Option<&str>) -> String {
        let capture = Capture::default();
        let writer = capture.clone();
        let subscriber = lambda_runtime::tracing::subscriber::registry()
            .with(filter(level, rust_log))
            .with(
                lambda_runtime::tracing::subscriber::fmt::layer()
                    .with_writer(move || writer.clone()),
            );
        let dispatch = lambda_runtime::tracing::Dispatch::new(subscriber);
        lambda_runtime::tracing::dispatcher::with_default(&dispatch, || {
            lambda_runtime::tracing::trace!(target: "lambda_runtime::layers::api_response", "raw event payload_marker");
            lambda_runtime::tracing::debug!(target: "lambda_runtime::layers::api_response", "runtime debug line");
            lambda_runtime::tracing::trace!(target: "stripe_eventbridge::handler", "own trace line");
        });
        String::from_utf8(capture.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn trace_level_hides_runtime_payload() {
        let text = logged(Some("TRACE"), None);
        assert!(!text.contains("payload_marker"), "{text}");
        assert!(text.contains("runtime debug line"), "{text}");
        assert!(text.contains("own trace line"), "{text}");
    }

    #[test]
    fn rust_log_cannot_lift_the_cap() {
        let text = logged(Some("lambda_runtime=trace"), Some("lambda_runtime=trace"));
        assert!(!text.contains("payload_marker"), "{text}");
    }

    #[test]
    fn info_level_keeps_runtime_quiet() {
        let text = logged(Some("INFO"), None);
        assert!(!text.contains("runtime debug line"), "{text}");
        assert!(!text.contains("own trace line"), "{text}");
    }
}

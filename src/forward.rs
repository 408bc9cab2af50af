//! Sending an entry to EventBridge with retries inside a deadline.
//!
//! PutEvents answers HTTP 200 even when the entry failed, so the result entry
//! is read every time. `ThrottlingException` and `InternalFailure` entries,
//! throttled and 5xx requests, timeouts and connection failures are retried
//! with full-jitter exponential backoff until the deadline; every other error
//! is final. The SDK's own retries are off so that one loop, aware of the
//! Lambda deadline, decides every retry.

use std::error::Error as StdError;
use std::time::Duration;

use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::config::retry::RetryConfig;
use aws_sdk_eventbridge::config::timeout::TimeoutConfig;
use aws_sdk_eventbridge::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_eventbridge::operation::put_events::{PutEventsError, PutEventsOutput};
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_smithy_types::error::display::DisplayErrorContext;
use tokio::time::Instant;

use crate::entry::Entry;

/// First backoff ceiling; doubled after each failed attempt.
const BACKOFF_BASE: Duration = Duration::from_millis(50);
/// Largest backoff ceiling.
const BACKOFF_CAP: Duration = Duration::from_secs(1);
/// An attempt is not started with less time than this left.
const MIN_ATTEMPT_TIME: Duration = Duration::from_millis(20);
/// Time to open a TCP and TLS connection to EventBridge.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Result-entry error codes worth retrying (PutEvents API reference).
const RETRYABLE_ENTRY_CODES: [&str; 2] = ["ThrottlingException", "InternalFailure"];

/// Request-level error codes that mean "try again later".
const RETRYABLE_REQUEST_CODES: [&str; 7] = [
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "InternalException",
    "InternalFailure",
    "ServiceUnavailable",
];

/// Failure to put an entry on the bus.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ForwardError {
    /// EventBridge rejected the entry or request with a non-retryable error.
    #[error("EventBridge rejected the event: {code}: {message}")]
    Rejected {
        /// The entry's `ErrorCode` or the request's error code.
        code: String,
        /// EventBridge's message.
        message: String,
    },
    /// The deadline passed before an attempt succeeded.
    #[error(
        "EventBridge did not accept the event within {budget_ms} ms after {attempts} attempts; last error: {last_error}"
    )]
    DeadlineExceeded {
        /// Attempts made.
        attempts: u32,
        /// The time budget in milliseconds.
        budget_ms: u128,
        /// The last retryable error seen.
        last_error: String,
    },
}

impl ForwardError {
    /// Returns the short machine-readable reason sent in responses and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Rejected { .. } => "eventbridge_rejected",
            Self::DeadlineExceeded { .. } => "eventbridge_unavailable",
        }
    }
}

/// The outcome of one attempt.
enum Attempt {
    Accepted(String),
    Retry(String),
    Final(ForwardError),
}

/// Sends entries to one EventBridge bus.
#[derive(Debug, Clone)]
pub struct Forwarder {
    client: Client,
    event_bus_name: String,
}

impl Forwarder {
    /// Creates a forwarder to `event_bus_name` through `client`.
    ///
    /// Build the client once at init with [`client_config`] and reuse it, so
    /// the connection stays open between invocations.
    pub fn new(client: Client, event_bus_name: String) -> Self {
        Self {
            client,
            event_bus_name,
        }
    }

    /// Puts one entry on the bus, retrying until `deadline`.
    ///
    /// Returns the EventBridge event id.
    ///
    /// # Errors
    ///
    /// Returns [`ForwardError::Rejected`] for a non-retryable error and
    /// [`ForwardError::DeadlineExceeded`] when retries ran out of time.
    pub async fn put(&self, entry: &Entry, deadline: Instant) -> Result<String, ForwardError> {
        let started = Instant::now();
        let request_entry = request_entry(&self.event_bus_name, entry);

        let mut attempts = 0u32;
        let mut last_error = String::from("no attempt was made");
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining < MIN_ATTEMPT_TIME {
                return Err(ForwardError::DeadlineExceeded {
                    attempts,
                    budget_ms: deadline.saturating_duration_since(started).as_millis(),
                    last_error,
                });
            }
            attempts += 1;
            let call = self
                .client
                .put_events()
                .entries(request_entry.clone())
                .send();
            let outcome = match tokio::time::timeout(remaining, call).await {
                Ok(Ok(output)) => classify_output(&output),
                Ok(Err(error)) => classify_error(&error),
                Err(_) => Attempt::Retry("attempt timed out at the deadline".to_owned()),
            };
            match outcome {
                Attempt::Accepted(event_id) => return Ok(event_id),
                Attempt::Final(error) => return Err(error),
                Attempt::Retry(error) => {
                    tracing::debug!(attempt = attempts, error = %error, "PutEvents attempt failed; retrying");
                    last_error = error;
                }
            }
            let pause = backoff(attempts).min(deadline.saturating_duration_since(Instant::now()));
            tokio::time::sleep(pause).await;
        }
    }
}

/// Returns a random pause in `[0, min(cap, base * 2^(attempt-1))]` (full jitter).
fn backoff(attempt: u32) -> Duration {
    let ceiling = BACKOFF_BASE
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
        .min(BACKOFF_CAP);
    let ceiling_ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(fastrand::u64(0..=ceiling_ms))
}

fn classify_output(output: &PutEventsOutput) -> Attempt {
    let Some(result) = output.entries().first() else {
        return Attempt::Retry("PutEvents returned no result entry".to_owned());
    };
    match (result.event_id(), result.error_code()) {
        (Some(event_id), None) if output.failed_entry_count() == 0 => {
            Attempt::Accepted(event_id.to_owned())
        }
        (_, Some(code)) => {
            let message = result.error_message().unwrap_or_default().to_owned();
            if RETRYABLE_ENTRY_CODES.contains(&code) {
                Attempt::Retry(format!("entry failed: {code}: {message}"))
            } else {
                Attempt::Final(ForwardError::Rejected {
                    code: code.to_owned(),
                    message,
                })
            }
        }
        _ => Attempt::Retry(format!(
            "PutEvents returned FailedEntryCount {} without an error code",
            output.failed_entry_count()
        )),
    }
}

fn classify_error(
    error: &SdkError<PutEventsError, aws_sdk_eventbridge::config::http::HttpResponse>,
) -> Attempt {
    match error {
        SdkError::ServiceError(context) => {
            let status = context.raw().status().as_u16();
            let code = error.code().unwrap_or("Unknown");
            let message = error.message().unwrap_or_default().to_owned();
            if status == 429 || status >= 500 || RETRYABLE_REQUEST_CODES.contains(&code) {
                Attempt::Retry(format!("HTTP {status}: {code}: {message}"))
            } else {
                Attempt::Final(ForwardError::Rejected {
                    code: code.to_owned(),
                    message,
                })
            }
        }
        SdkError::ConstructionFailure(_) => Attempt::Final(ForwardError::Rejected {
            code: "RequestConstructionFailed".to_owned(),
            message: error_chain(error),
        }),
        // Timeouts, connection failures and unreadable responses may clear.
        _ => Attempt::Retry(error_chain(error)),
    }
}

/// Formats an error with its chain of sources on one line.
pub fn error_chain(error: &(dyn StdError + 'static)) -> String {
    DisplayErrorContext(error).to_string()
}

/// Builds the EventBridge client configuration: SDK retries off (the
/// forwarder retries), and connect and operation timeouts no longer than
/// `forward_timeout`, so a hanging endpoint cannot outlast the deadline.
pub fn client_config(
    sdk_config: &aws_config::SdkConfig,
    forward_timeout: Duration,
) -> aws_sdk_eventbridge::Config {
    aws_sdk_eventbridge::config::Builder::from(sdk_config)
        .retry_config(RetryConfig::disabled())
        .timeout_config(timeouts(forward_timeout))
        .build()
}

/// Builds the SDK's PutEvents entry for `entry` on `event_bus_name`.
///
/// The builder takes owned strings, so `Detail` is copied once here; each
/// attempt of [`Forwarder::put`] then sends a clone of the result.
pub fn request_entry(event_bus_name: &str, entry: &Entry) -> PutEventsRequestEntry {
    PutEventsRequestEntry::builder()
        .event_bus_name(event_bus_name)
        .source(&entry.source)
        .detail_type(&entry.detail_type)
        .detail(&entry.detail)
        .set_time(entry.time)
        .set_trace_header(entry.trace_header.clone())
        .build()
}

/// Returns SDK timeouts bounded by `limit`: a one-second connect timeout
/// (or `limit` when shorter) and attempt and operation timeouts of `limit`.
/// Every client of the receiver uses them, so no AWS call can hang past it.
pub fn timeouts(limit: Duration) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT.min(limit))
        .operation_attempt_timeout(limit)
        .operation_timeout(limit)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_stays_under_ceiling() {
        for attempt in 1..40 {
            let pause = backoff(attempt);
            let ceiling = BACKOFF_BASE
                .saturating_mul(1u32 << (attempt - 1).min(16))
                .min(BACKOFF_CAP);
            assert!(
                pause <= ceiling,
                "attempt {attempt}: {pause:?} > {ceiling:?}"
            );
        }
    }

    #[test]
    fn accepted_entry_returns_id() {
        let output = PutEventsOutput::builder()
            .failed_entry_count(0)
            .entries(
                aws_sdk_eventbridge::types::PutEventsResultEntry::builder()
                    .event_id("11111111-2222")
                    .build(),
            )
            .build();
        assert!(matches!(classify_output(&output), Attempt::Accepted(id) if id == "11111111-2222"));
    }

    #[test]
    fn entry_codes_split_retryable_from_final() {
        let cases = [
            ("ThrottlingException", true),
            ("InternalFailure", true),
            ("AccessDeniedException", false),
            ("MalformedDetail", false),
            ("InvalidArgument", false),
            ("NotAuthorizedForSourceException", false),
        ];
        for (code, retryable) in cases {
            let output = PutEventsOutput::builder()
                .failed_entry_count(1)
                .entries(
                    aws_sdk_eventbridge::types::PutEventsResultEntry::builder()
                        .error_code(code)
                        .error_message("m")
                        .build(),
                )
                .build();
            let outcome = classify_output(&output);
            assert_eq!(
                matches!(outcome, Attempt::Retry(_)),
                retryable,
                "code {code}"
            );
        }
    }
}

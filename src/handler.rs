//! The HTTP handler: one Stripe delivery in, one status code out.
//!
//! Steps, in order: source allowlist, method, body size, signature, envelope,
//! duplicate check, entry size (pointer or claim check), PutEvents. Every
//! request ends with one outcome log line and, when enabled, one metric
//! record. A 2xx is returned only when the event is on the bus, or when it
//! is a recognised duplicate of an event already there.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use tokio::time::Instant;

use crate::allowlist::SourceAllowlist;
use crate::claim_check::{ClaimCheckError, ClaimCheckStore};
use crate::config::Config;
use crate::dedup::{DedupTable, Reservation};
use crate::entry::{Entry, Truncation, pointer_detail};
use crate::event::{EventError, body_string, parse_envelope};
use crate::forward::{ForwardError, Forwarder};
use crate::metrics::{Metric, MetricsSink};
use crate::request::{ResponseShape, WebhookRequest, WebhookResponse};
use crate::secrets::SecretStore;
use crate::signature::{self, SignatureError, Verification};

/// Time kept back from the Lambda deadline to write the response.
pub const DEADLINE_MARGIN: Duration = Duration::from_millis(250);

/// Time allowed for recording a delivery in the dedup table after PutEvents;
/// it comes out of [`DEADLINE_MARGIN`].
pub const SETTLE_TIMEOUT: Duration = Duration::from_millis(150);

/// Source of the current time in Unix seconds; tests inject a fixed one.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// Returns a [`Clock`] reading the system time.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs())
    })
}

/// Failure that ends a request with a non-2xx status.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The source address is not in `ALLOWED_SOURCE_CIDRS`.
    #[error("source address {} is not allowed", .0.map_or("unknown".to_owned(), |ip| ip.to_string()))]
    SourceNotAllowed(Option<IpAddr>),
    /// The method is not POST.
    #[error("method {0} is not allowed; use POST")]
    MethodNotAllowed(String),
    /// The request has no body.
    #[error("request body is empty")]
    EmptyBody,
    /// The event marks the body as base64, but it does not decode.
    #[error("request body is marked base64 but does not decode")]
    InvalidBase64,
    /// The body is larger than `MAX_BODY_BYTES`.
    #[error("request body is {len} bytes; the limit is {max}")]
    BodyTooLarge {
        /// Body length in bytes.
        len: usize,
        /// The configured limit.
        max: usize,
    },
    /// The signature check failed.
    #[error(transparent)]
    Signature(#[from] SignatureError),
    /// The body is not a usable Stripe event.
    #[error(transparent)]
    Event(#[from] EventError),
    /// The oversize event could not be stored.
    #[error(transparent)]
    ClaimCheck(#[from] ClaimCheckError),
    /// Even the smallest pointer entry is over the entry size cap.
    #[error("pointer entry is {size} bytes; the entry size cap is {max}")]
    PointerTooLarge {
        /// Size of the smallest pointer entry.
        size: usize,
        /// `EVENTBRIDGE_MAX_ENTRY_BYTES`.
        max: usize,
    },
    /// EventBridge did not take the event.
    #[error(transparent)]
    Forward(#[from] ForwardError),
}

impl RequestError {
    /// Returns the HTTP status for this error: the one place it is chosen.
    pub fn status(&self) -> u16 {
        match self {
            Self::SourceNotAllowed(_) => 403,
            Self::MethodNotAllowed(_) => 405,
            Self::EmptyBody | Self::InvalidBase64 | Self::Signature(_) | Self::Event(_) => 400,
            Self::BodyTooLarge { .. } => 413,
            Self::Forward(ForwardError::Rejected { .. }) | Self::PointerTooLarge { .. } => 502,
            Self::Forward(_) | Self::ClaimCheck(_) => 503,
        }
    }

    /// Returns the short machine-readable reason sent in responses and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::SourceNotAllowed(_) => "source_not_allowed",
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::EmptyBody => "empty_body",
            Self::InvalidBase64 => "body_not_base64",
            Self::BodyTooLarge { .. } => "body_too_large",
            Self::Signature(error) => error.reason(),
            Self::Event(error) => error.reason(),
            Self::ClaimCheck(_) => "claim_check_failed",
            Self::PointerTooLarge { .. } => "event_too_large",
            Self::Forward(error) => error.reason(),
        }
    }

    /// Returns whether the message may be shown to the caller: client errors
    /// say what to fix, server errors reveal nothing internal.
    fn is_public(&self) -> bool {
        (400..500).contains(&self.status())
    }
}

/// Fixed settings of the handler, taken from [`Config`].
#[derive(Debug, Clone)]
pub struct Settings {
    /// `Source` of every entry.
    pub event_source: String,
    /// Signature time window in seconds.
    pub tolerance_secs: u64,
    /// Largest entry sent as is.
    pub max_entry_bytes: usize,
    /// Largest body accepted.
    pub max_body_bytes: usize,
    /// Upper bound on forwarding time.
    pub forward_timeout: Duration,
    /// Allowed source networks.
    pub allowed_sources: SourceAllowlist,
}

impl From<&Config> for Settings {
    fn from(config: &Config) -> Self {
        Self {
            event_source: config.event_source.clone(),
            tolerance_secs: config.tolerance_secs,
            max_entry_bytes: config.max_entry_bytes,
            max_body_bytes: config.max_body_bytes,
            forward_timeout: config.forward_timeout,
            allowed_sources: config.allowed_sources.clone(),
        }
    }
}

/// Result of a successful request.
#[derive(Debug)]
struct Delivered {
    eventbridge_event_id: Option<String>,
    outcome: &'static str,
}

/// Fields of the outcome log line, filled in as the request progresses.
#[derive(Debug, Default)]
struct Outcome {
    event_id: Option<String>,
    event_type: Option<String>,
    livemode: Option<bool>,
    account: Option<String>,
    body_bytes: Option<usize>,
    truncated: bool,
}

/// The webhook receiver: verifies, parses and forwards one request at a time.
pub struct Receiver {
    settings: Settings,
    secrets: SecretStore,
    forwarder: Forwarder,
    clock: Clock,
    claim_check: Option<ClaimCheckStore>,
    dedup: Option<DedupTable>,
    metrics: MetricsSink,
}

impl Receiver {
    /// Creates a receiver using the system clock, no claim check, no
    /// duplicate suppression and no metrics output.
    pub fn new(settings: Settings, secrets: SecretStore, forwarder: Forwarder) -> Self {
        Self {
            settings,
            secrets,
            forwarder,
            clock: system_clock(),
            claim_check: None,
            dedup: None,
            metrics: MetricsSink::disabled(),
        }
    }

    /// Replaces the clock.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Stores oversize events in S3 before sending their pointer.
    pub fn with_claim_check(mut self, store: ClaimCheckStore) -> Self {
        self.claim_check = Some(store);
        self
    }

    /// Suppresses repeated deliveries of events already on the bus.
    pub fn with_dedup(mut self, table: DedupTable) -> Self {
        self.dedup = Some(table);
        self
    }

    /// Writes one metric record per request to `metrics`.
    pub fn with_metrics(mut self, metrics: MetricsSink) -> Self {
        self.metrics = metrics;
        self
    }

    /// Returns the signing secrets held.
    pub fn secrets(&self) -> &SecretStore {
        &self.secrets
    }

    /// Handles one request and logs its outcome. Never fails: every error
    /// becomes a response.
    pub async fn handle(&self, request: WebhookRequest) -> WebhookResponse {
        let shape = ResponseShape::from(&request);
        let started = Instant::now();
        let mut outcome = Outcome::default();
        let result = self.process(request, started, &mut outcome).await;
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;

        match result {
            Ok(delivered) => {
                if outcome.truncated {
                    tracing::warn!(
                        event_id = outcome.event_id.as_deref(),
                        event_type = outcome.event_type.as_deref(),
                        body_bytes = outcome.body_bytes,
                        "event over the entry size cap was sent as a pointer entry"
                    );
                }
                tracing::info!(
                    event_id = outcome.event_id.as_deref(),
                    event_type = outcome.event_type.as_deref(),
                    livemode = outcome.livemode,
                    account = outcome.account.as_deref(),
                    outcome = delivered.outcome,
                    eventbridge_event_id = delivered.eventbridge_event_id.as_deref(),
                    status = 200,
                    elapsed_ms,
                    "webhook handled"
                );
                let metric = match delivered.outcome {
                    "duplicate" => Metric::Duplicate,
                    _ if outcome.truncated => Metric::OversizePointer,
                    _ => Metric::Forwarded,
                };
                self.metrics
                    .record(metric, outcome.event_type.as_deref(), None);
                let body = serde_json::json!({
                    "received": true,
                    "id": outcome.event_id,
                    "eventbridge_event_id": delivered.eventbridge_event_id,
                    "duplicate": delivered.outcome == "duplicate",
                });
                json_response(shape, 200, &body)
            }
            Err(error) => {
                let status = error.status();
                let reason = error.reason();
                macro_rules! log_failure {
                    ($level:ident) => {
                        tracing::$level!(
                            event_id = outcome.event_id.as_deref(),
                            event_type = outcome.event_type.as_deref(),
                            livemode = outcome.livemode,
                            account = outcome.account.as_deref(),
                            outcome = "rejected",
                            reason,
                            error = %error,
                            status,
                            elapsed_ms,
                            "webhook handled"
                        )
                    };
                }
                if status >= 500 {
                    log_failure!(error);
                    self.metrics.record(
                        Metric::ForwardFailure,
                        outcome.event_type.as_deref(),
                        Some(reason),
                    );
                } else {
                    log_failure!(warn);
                    self.metrics.record(
                        Metric::Rejected,
                        outcome.event_type.as_deref(),
                        Some(reason),
                    );
                }
                error_response(shape, &error)
            }
        }
    }

    async fn process(
        &self,
        mut request: WebhookRequest,
        started: Instant,
        outcome: &mut Outcome,
    ) -> Result<Delivered, RequestError> {
        let source_ip = request.source_ip.as_deref().and_then(|ip| ip.parse().ok());
        if !self.settings.allowed_sources.allows(source_ip) {
            return Err(RequestError::SourceNotAllowed(source_ip));
        }
        if request.method != "POST" {
            return Err(RequestError::MethodNotAllowed(method_for_display(
                &request.method,
            )));
        }
        let deadline = self.deadline(request.deadline, started);

        let body = self.body_bytes(&mut request)?;
        outcome.body_bytes = Some(body.len());
        if body.is_empty() {
            return Err(RequestError::EmptyBody);
        }
        if body.len() > self.settings.max_body_bytes {
            return Err(RequestError::BodyTooLarge {
                len: body.len(),
                max: self.settings.max_body_bytes,
            });
        }

        self.verify(&request.signatures, &body, deadline).await?;

        let body = body_string(body)?;
        let envelope = parse_envelope(&body)?;
        outcome.event_id = Some(envelope.id.clone());
        outcome.event_type = Some(envelope.event_type.clone());
        outcome.livemode = envelope.livemode;
        outcome.account = envelope.account.clone();

        let reservation = match &self.dedup {
            Some(table) => match table.reserve(&envelope.id, deadline).await {
                Reservation::AlreadyDelivered {
                    eventbridge_event_id,
                } => {
                    return Ok(Delivered {
                        eventbridge_event_id,
                        outcome: "duplicate",
                    });
                }
                reservation => Some(reservation),
            },
            None => None,
        };

        let trace_header = request
            .trace_header
            .take()
            .filter(|value| (1..=500).contains(&value.len()) && is_header_text(value));
        let mut entry = Entry::new(&self.settings.event_source, &envelope, body, trace_header);
        let size = entry.size();
        if size > self.settings.max_entry_bytes {
            outcome.truncated = true;
            entry = self
                .pointer_entry(entry, &envelope.id, size, deadline)
                .await?;
        }

        let forwarded = self.forwarder.put(&entry, deadline).await;
        if let (Some(table), Some(reservation)) = (&self.dedup, reservation) {
            let settle = table.settle(&envelope.id, reservation, forwarded.as_ref().ok());
            if tokio::time::timeout(SETTLE_TIMEOUT, settle).await.is_err() {
                // The PutEvents result is final either way. A missing mark only
                // costs a duplicate on redelivery, and a stale reservation
                // expires with its lease.
                tracing::warn!(event_id = %envelope.id, "dedup table update timed out");
            }
        }
        let eventbridge_event_id = forwarded?;
        Ok(Delivered {
            eventbridge_event_id: Some(eventbridge_event_id),
            outcome: if outcome.truncated {
                "forwarded_pointer"
            } else {
                "forwarded"
            },
        })
    }

    /// Verifies the signature, fetching the secret again once when an
    /// authentic-looking request matches no held secret.
    ///
    /// Fetches of the secret stop at `deadline`; a fetch cut short keeps the
    /// held secrets.
    async fn verify(
        &self,
        values: &[String],
        body: &[u8],
        deadline: Instant,
    ) -> Result<(), SignatureError> {
        let header = signature_header(values)?;
        let parsed = signature::parse_header(&header)?;
        if tokio::time::timeout_at(deadline, self.secrets.refresh_if_old())
            .await
            .is_err()
        {
            tracing::warn!("signing secret refresh timed out; keeping the held secrets");
        }
        let settings = Verification {
            now: (self.clock)(),
            tolerance_secs: self.settings.tolerance_secs,
        };
        match signature::verify(&parsed, body, &self.secrets.current(), settings) {
            Err(SignatureError::NoMatchingSignature)
                if self.secrets.is_refreshable()
                    && signature::check_window(parsed.timestamp, settings).is_ok() =>
            {
                let refreshed = tokio::time::timeout_at(deadline, self.secrets.refresh()).await;
                if refreshed.is_err() {
                    tracing::warn!("signing secret refresh timed out; keeping the held secrets");
                }
                if refreshed == Ok(true) {
                    signature::verify(&parsed, body, &self.secrets.current(), settings)
                } else {
                    Err(SignatureError::NoMatchingSignature)
                }
            }
            result => result,
        }
    }

    /// Replaces an oversize entry with its pointer, storing the event first
    /// when a claim-check bucket is configured.
    async fn pointer_entry(
        &self,
        entry: Entry,
        event_id: &str,
        original_entry_bytes: usize,
        deadline: Instant,
    ) -> Result<Entry, RequestError> {
        let claim_check = match &self.claim_check {
            Some(store) => Some(store.put(event_id, &entry.detail, deadline).await?),
            None => None,
        };
        let truncation = Truncation {
            original_entry_bytes,
            original_body_bytes: entry.detail.len(),
            max_entry_bytes: self.settings.max_entry_bytes,
            claim_check,
        };
        let overhead = original_entry_bytes - entry.detail.len();
        let max_detail = self.settings.max_entry_bytes.saturating_sub(overhead);
        let detail = pointer_detail(&entry.detail, &truncation, max_detail);
        let pointer = Entry { detail, ..entry };
        // Only an `id` or `type` of kilobytes gets here; EventBridge would
        // reject the entry, so it is not sent.
        if pointer.size() > self.settings.max_entry_bytes {
            return Err(RequestError::PointerTooLarge {
                size: pointer.size(),
                max: self.settings.max_entry_bytes,
            });
        }
        Ok(pointer)
    }

    /// Takes the body out of `request`, decoding it when the event marks it
    /// as base64. A base64 body clearly over the size limit is not decoded.
    fn body_bytes(&self, request: &mut WebhookRequest) -> Result<Vec<u8>, RequestError> {
        let Some(text) = request.body.take() else {
            return Err(RequestError::EmptyBody);
        };
        if !request.is_base64 {
            return Ok(text.into_bytes());
        }
        let decoded_len = base64::decoded_len_estimate(text.len());
        // The estimate is at most two bytes over the exact length.
        if decoded_len > self.settings.max_body_bytes + 2 {
            return Err(RequestError::BodyTooLarge {
                len: decoded_len,
                max: self.settings.max_body_bytes,
            });
        }
        base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map_err(|_| RequestError::InvalidBase64)
    }

    /// Returns when forwarding must stop: the configured timeout, or the
    /// Lambda deadline less a margin when that is sooner.
    fn deadline(&self, lambda_deadline: Option<SystemTime>, started: Instant) -> Instant {
        let configured = started + self.settings.forward_timeout;
        let Some(lambda_deadline) = lambda_deadline else {
            return configured;
        };
        // A deadline already past when the invocation starts is not real:
        // `cargo lambda watch` 1.9 sends 600000 ms after the epoch.
        match lambda_deadline.duration_since(SystemTime::now()) {
            Ok(remaining) if !remaining.is_zero() => {
                configured.min(started + remaining.saturating_sub(DEADLINE_MARGIN))
            }
            _ => configured,
        }
    }
}

/// Joins every `Stripe-Signature` header value with commas.
fn signature_header(values: &[String]) -> Result<String, SignatureError> {
    let mut joined = String::new();
    for value in values {
        if !is_header_text(value) {
            return Err(SignatureError::InvalidHeaderEncoding);
        }
        if !joined.is_empty() {
            joined.push(',');
        }
        joined.push_str(value);
        if joined.len() > signature::MAX_HEADER_BYTES {
            return Err(SignatureError::HeaderTooLong { len: joined.len() });
        }
    }
    if joined.trim().is_empty() {
        return Err(SignatureError::MissingHeader);
    }
    Ok(joined)
}

/// Returns whether `value` is visible ASCII, spaces and tabs: the header
/// text HTTP allows, and all a Stripe header holds.
fn is_header_text(value: &str) -> bool {
    value
        .bytes()
        .all(|byte| byte == b'\t' || (b' '..=b'~').contains(&byte))
}

/// Returns a method name fit for a message: at most 16 visible ASCII
/// characters, else a placeholder.
fn method_for_display(method: &str) -> String {
    if method.len() <= 16 && is_header_text(method) {
        method.to_owned()
    } else {
        "(invalid)".to_owned()
    }
}

fn json_response(shape: ResponseShape, status: u16, body: &serde_json::Value) -> WebhookResponse {
    WebhookResponse::json(shape, status, body.to_string())
}

fn error_response(shape: ResponseShape, error: &RequestError) -> WebhookResponse {
    let mut body = serde_json::json!({ "error": error.reason() });
    if error.is_public() {
        body["message"] = serde_json::Value::String(error.to_string());
    }
    let response = json_response(shape, error.status(), &body);
    if matches!(error, RequestError::MethodNotAllowed(_)) {
        response.with_allow("POST")
    } else {
        response
    }
}

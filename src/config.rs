//! Configuration, read from environment variables once at init.
//!
//! Every variable is validated here so that the handler never reads the
//! environment and never meets an invalid setting. A missing or invalid
//! variable is an init error whose message names the variable and the
//! expected form, and never contains a secret.

use std::fmt;
use std::time::Duration;

use crate::allowlist::SourceAllowlist;

/// Default `EVENT_SOURCE`.
pub const DEFAULT_EVENT_SOURCE: &str = "stripe.com";
/// Default `STRIPE_SIGNATURE_TOLERANCE_SECS`, as in Stripe's libraries.
pub const DEFAULT_TOLERANCE_SECS: u64 = 300;
/// Default `EVENTBRIDGE_MAX_ENTRY_BYTES`: EventBridge's documented 256 KB entry limit.
pub const DEFAULT_MAX_ENTRY_BYTES: usize = 262_144;
/// Default `MAX_BODY_BYTES`: 4 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// Default `FORWARD_TIMEOUT_MS`.
pub const DEFAULT_FORWARD_TIMEOUT: Duration = Duration::from_millis(5000);

/// Largest entry EventBridge accepts since January 2026 (1 MB payloads).
const MAX_ENTRY_BYTES_LIMIT: usize = 1_048_576;
/// Smallest useful entry cap: room for a pointer entry.
const MIN_ENTRY_BYTES: usize = 4096;
/// Largest request body a Lambda can receive synchronously (6 MB payload).
const MAX_BODY_BYTES_LIMIT: usize = 6 * 1024 * 1024;

/// A Stripe webhook signing secret (`whsec_…`).
///
/// Its `Debug` and `Display` never print the value.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    /// Creates a secret from text, trimming surrounding whitespace.
    ///
    /// # Errors
    ///
    /// Returns [`SecretFormatError`] when the text does not start with
    /// `whsec_` or contains nothing after it.
    pub fn new(text: &str) -> Result<Self, SecretFormatError> {
        let text = text.trim();
        if text.starts_with("sk_") || text.starts_with("rk_") || text.starts_with("pk_") {
            return Err(SecretFormatError::ApiKey);
        }
        match text.strip_prefix("whsec_") {
            Some("") => Err(SecretFormatError::EmptyAfterPrefix),
            Some(_) => Ok(Self(text.to_owned())),
            None => Err(SecretFormatError::NotWhsec),
        }
    }

    /// Returns the secret text, for computing a MAC.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret([redacted])")
    }
}

/// Reasons a text is not a webhook signing secret. Never carries the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SecretFormatError {
    /// An API key was given where a signing secret belongs.
    #[error(
        "looks like a Stripe API key; use the endpoint's signing secret (whsec_...) from the dashboard"
    )]
    ApiKey,
    /// The text does not start with `whsec_`.
    #[error("does not start with whsec_")]
    NotWhsec,
    /// The text is `whsec_` alone.
    #[error("has nothing after whsec_")]
    EmptyAfterPrefix,
}

/// Splits a list of secrets on commas and newlines, skipping empty items.
///
/// # Errors
///
/// Returns the 1-based position and the problem of the first invalid item,
/// or position 0 when the list contains no secret at all.
pub fn parse_secret_list(text: &str) -> Result<Vec<WebhookSecret>, (usize, SecretFormatError)> {
    let mut secrets = Vec::new();
    let items = text
        .split([',', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty());
    for (index, item) in items.enumerate() {
        let secret = WebhookSecret::new(item).map_err(|e| (index + 1, e))?;
        if !secrets.contains(&secret) {
            secrets.push(secret);
        }
    }
    if secrets.is_empty() {
        return Err((0, SecretFormatError::NotWhsec));
    }
    Ok(secrets)
}

/// Source of the signing secrets.
#[derive(Debug, Clone)]
pub enum SecretSource {
    /// Secrets given directly in `STRIPE_WEBHOOK_SECRET`.
    Inline(Vec<WebhookSecret>),
    /// A Secrets Manager secret named by `STRIPE_WEBHOOK_SECRET_ARN`.
    SecretsManager {
        /// The secret's ARN or name.
        arn: String,
    },
}

/// Validated settings of the receiver.
#[derive(Debug, Clone)]
pub struct Config {
    /// Signing secrets or where to fetch them.
    pub secrets: SecretSource,
    /// Target bus (`EVENT_BUS_NAME`), a name or an ARN.
    pub event_bus_name: String,
    /// `Source` of every entry (`EVENT_SOURCE`).
    pub event_source: String,
    /// Signature time window in seconds (`STRIPE_SIGNATURE_TOLERANCE_SECS`).
    pub tolerance_secs: u64,
    /// Largest entry sent as is (`EVENTBRIDGE_MAX_ENTRY_BYTES`).
    pub max_entry_bytes: usize,
    /// Largest request body accepted (`MAX_BODY_BYTES`).
    pub max_body_bytes: usize,
    /// Upper bound on the time spent forwarding one event (`FORWARD_TIMEOUT_MS`).
    pub forward_timeout: Duration,
    /// S3 bucket for oversize events (`CLAIM_CHECK_BUCKET`), if any.
    pub claim_check_bucket: Option<String>,
    /// DynamoDB table for duplicate suppression (`DEDUP_TABLE`), if any.
    pub dedup_table: Option<String>,
    /// Source networks allowed to call (`ALLOWED_SOURCE_CIDRS`); empty allows all.
    pub allowed_sources: SourceAllowlist,
}

/// A missing or invalid configuration variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required variable is not set.
    #[error("{var} is not set; expected {expected}")]
    Missing {
        /// The variable's name.
        var: &'static str,
        /// The expected form.
        expected: &'static str,
    },
    /// A variable is set to a value outside its expected form.
    #[error("{var} is invalid: {problem}; expected {expected}")]
    Invalid {
        /// The variable's name.
        var: &'static str,
        /// What is wrong, without the value when the value is secret.
        problem: String,
        /// The expected form.
        expected: &'static str,
    },
    /// Both or neither of the two secret variables are set.
    #[error("set exactly one of STRIPE_WEBHOOK_SECRET and STRIPE_WEBHOOK_SECRET_ARN ({found})")]
    SecretSourceAmbiguous {
        /// Which of the two were found.
        found: &'static str,
    },
}

impl Config {
    /// Reads the configuration from the process environment.
    ///
    /// # Errors
    ///
    /// Returns the first [`ConfigError`] met.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup`, which returns a variable's
    /// value or `None` when it is unset. An empty value counts as unset.
    ///
    /// # Errors
    ///
    /// Returns the first [`ConfigError`] met.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());

        let secrets = match (
            get("STRIPE_WEBHOOK_SECRET"),
            get("STRIPE_WEBHOOK_SECRET_ARN"),
        ) {
            (Some(text), None) => {
                SecretSource::Inline(parse_secret_list(&text).map_err(|(position, problem)| {
                    secret_list_error("STRIPE_WEBHOOK_SECRET", position, problem)
                })?)
            }
            (None, Some(arn)) => SecretSource::SecretsManager {
                arn: arn.trim().to_owned(),
            },
            (Some(_), Some(_)) => return Err(ConfigError::SecretSourceAmbiguous { found: "both" }),
            (None, None) => {
                return Err(ConfigError::SecretSourceAmbiguous {
                    found: "neither is set",
                });
            }
        };

        let event_bus_name = get("EVENT_BUS_NAME")
            .map(|name| name.trim().to_owned())
            .ok_or(ConfigError::Missing {
                var: "EVENT_BUS_NAME",
                expected: "the name or ARN of a custom EventBridge bus",
            })?;

        let event_source = get("EVENT_SOURCE").unwrap_or_else(|| DEFAULT_EVENT_SOURCE.to_owned());
        validate_source(&event_source)?;

        let tolerance_secs = parse_number(
            get("STRIPE_SIGNATURE_TOLERANCE_SECS"),
            "STRIPE_SIGNATURE_TOLERANCE_SECS",
            DEFAULT_TOLERANCE_SECS,
            1..=3600,
            "whole seconds from 1 to 3600",
        )?;
        let max_entry_bytes = parse_number(
            get("EVENTBRIDGE_MAX_ENTRY_BYTES"),
            "EVENTBRIDGE_MAX_ENTRY_BYTES",
            DEFAULT_MAX_ENTRY_BYTES as u64,
            MIN_ENTRY_BYTES as u64..=MAX_ENTRY_BYTES_LIMIT as u64,
            "bytes from 4096 to 1048576",
        )? as usize;
        let max_body_bytes = parse_number(
            get("MAX_BODY_BYTES"),
            "MAX_BODY_BYTES",
            DEFAULT_MAX_BODY_BYTES as u64,
            1..=MAX_BODY_BYTES_LIMIT as u64,
            "bytes from 1 to 6291456",
        )? as usize;
        let forward_timeout = Duration::from_millis(parse_number(
            get("FORWARD_TIMEOUT_MS"),
            "FORWARD_TIMEOUT_MS",
            DEFAULT_FORWARD_TIMEOUT.as_millis() as u64,
            100..=900_000,
            "milliseconds from 100 to 900000",
        )?);

        let allowed_sources = match get("ALLOWED_SOURCE_CIDRS") {
            Some(text) => {
                SourceAllowlist::parse(&text).map_err(|problem| ConfigError::Invalid {
                    var: "ALLOWED_SOURCE_CIDRS",
                    problem: problem.to_string(),
                    expected: "comma-separated IPv4 or IPv6 addresses or CIDR blocks",
                })?
            }
            None => SourceAllowlist::default(),
        };

        Ok(Self {
            secrets,
            event_bus_name,
            event_source,
            tolerance_secs,
            max_entry_bytes,
            max_body_bytes,
            forward_timeout,
            claim_check_bucket: get("CLAIM_CHECK_BUCKET").map(|b| b.trim().to_owned()),
            dedup_table: get("DEDUP_TABLE").map(|t| t.trim().to_owned()),
            allowed_sources,
        })
    }
}

/// Builds the error for an invalid item of a secret list, naming its position.
pub fn secret_list_error(
    var: &'static str,
    position: usize,
    problem: SecretFormatError,
) -> ConfigError {
    let problem = if position == 0 {
        "holds no secret".to_owned()
    } else {
        format!("secret {position} {problem}")
    };
    ConfigError::Invalid {
        var,
        problem,
        expected: "one or more whsec_... secrets separated by commas or newlines",
    }
}

/// Checks `EVENT_SOURCE` against EventBridge's rules for `Source`.
fn validate_source(source: &str) -> Result<(), ConfigError> {
    const EXPECTED: &str = "1 to 256 characters, not starting with \"aws.\"";
    let length = source.chars().count();
    if !(1..=256).contains(&length) {
        return Err(ConfigError::Invalid {
            var: "EVENT_SOURCE",
            problem: format!("{length} characters long"),
            expected: EXPECTED,
        });
    }
    // EventBridge reserves every source starting with "aws." for AWS services.
    if source
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case("aws."))
    {
        return Err(ConfigError::Invalid {
            var: "EVENT_SOURCE",
            problem: format!("{source:?} starts with \"aws.\", which AWS reserves"),
            expected: EXPECTED,
        });
    }
    Ok(())
}

/// Parses an optional decimal variable, applying a default and a range.
fn parse_number(
    value: Option<String>,
    var: &'static str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
    expected: &'static str,
) -> Result<u64, ConfigError> {
    let Some(text) = value else {
        return Ok(default);
    };
    let number: u64 = text.trim().parse().map_err(|_| ConfigError::Invalid {
        var,
        problem: format!("{text:?} is not a whole number"),
        expected,
    })?;
    if !range.contains(&number) {
        return Err(ConfigError::Invalid {
            var,
            problem: format!("{number} is out of range"),
            expected,
        });
    }
    Ok(number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    const BASE: [(&str, &str); 2] = [
        ("STRIPE_WEBHOOK_SECRET", "whsec_abc"),
        ("EVENT_BUS_NAME", "stripe"),
    ];

    #[test]
    fn defaults_apply() {
        let config = config(&BASE).unwrap();
        assert_eq!(config.event_source, "stripe.com");
        assert_eq!(config.tolerance_secs, 300);
        assert_eq!(config.max_entry_bytes, 262_144);
        assert_eq!(config.max_body_bytes, 4 * 1024 * 1024);
        assert_eq!(config.forward_timeout, Duration::from_millis(5000));
        assert!(config.claim_check_bucket.is_none());
        assert!(config.dedup_table.is_none());
    }

    #[test]
    fn secret_list_splits_and_trims() {
        let config = config(&[
            ("STRIPE_WEBHOOK_SECRET", " whsec_one , whsec_two,\n"),
            ("EVENT_BUS_NAME", "stripe"),
        ])
        .unwrap();
        let SecretSource::Inline(secrets) = config.secrets else {
            panic!("expected inline secrets");
        };
        let texts: Vec<&str> = secrets.iter().map(WebhookSecret::expose).collect();
        assert_eq!(texts, ["whsec_one", "whsec_two"]);
    }

    #[test]
    fn api_key_is_rejected_without_echo() {
        let error = config(&[
            ("STRIPE_WEBHOOK_SECRET", "sk_live_supersecretvalue"),
            ("EVENT_BUS_NAME", "stripe"),
        ])
        .unwrap_err();
        let message = error.to_string();
        assert!(message.contains("STRIPE_WEBHOOK_SECRET"), "{message}");
        assert!(message.contains("API key"), "{message}");
        assert!(!message.contains("supersecretvalue"), "{message}");
    }

    #[test]
    fn bare_prefix_is_named() {
        assert_eq!(
            WebhookSecret::new("whsec_"),
            Err(SecretFormatError::EmptyAfterPrefix)
        );
        assert_eq!(
            SecretFormatError::EmptyAfterPrefix.to_string(),
            "has nothing after whsec_"
        );
    }

    #[test]
    fn both_secret_sources_rejected() {
        let error = config(&[
            ("STRIPE_WEBHOOK_SECRET", "whsec_abc"),
            ("STRIPE_WEBHOOK_SECRET_ARN", "arn:aws:secretsmanager:x"),
            ("EVENT_BUS_NAME", "stripe"),
        ])
        .unwrap_err();
        assert!(matches!(error, ConfigError::SecretSourceAmbiguous { .. }));
    }

    #[test]
    fn missing_bus_names_variable() {
        let error = config(&[("STRIPE_WEBHOOK_SECRET", "whsec_abc")]).unwrap_err();
        assert!(error.to_string().starts_with("EVENT_BUS_NAME is not set"));
    }

    #[test]
    fn aws_source_rejected_in_any_case() {
        for source in ["aws.stripe", "AWS.x", "Aws.partner"] {
            let mut vars = BASE.to_vec();
            vars.push(("EVENT_SOURCE", source));
            let error = config(&vars).unwrap_err();
            assert!(
                error.to_string().contains("EVENT_SOURCE"),
                "source {source}: {error}"
            );
        }
    }

    #[test]
    fn long_source_rejected() {
        let source = "s".repeat(257);
        let mut vars = BASE.to_vec();
        vars.push(("EVENT_SOURCE", &source));
        assert!(config(&vars).is_err());
    }

    #[test]
    fn zero_tolerance_rejected() {
        let mut vars = BASE.to_vec();
        vars.push(("STRIPE_SIGNATURE_TOLERANCE_SECS", "0"));
        let error = config(&vars).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("STRIPE_SIGNATURE_TOLERANCE_SECS"),
            "{error}"
        );
    }

    #[test]
    fn non_numeric_timeout_rejected() {
        let mut vars = BASE.to_vec();
        vars.push(("FORWARD_TIMEOUT_MS", "5s"));
        let error = config(&vars).unwrap_err();
        assert_eq!(
            error.to_string(),
            "FORWARD_TIMEOUT_MS is invalid: \"5s\" is not a whole number; \
             expected milliseconds from 100 to 900000"
        );
    }

    #[test]
    fn debug_redacts_secrets() {
        let config = config(&BASE).unwrap();
        let debug = format!("{config:?}");
        assert!(!debug.contains("whsec_abc"), "{debug}");
        assert!(debug.contains("[redacted]"), "{debug}");
    }
}

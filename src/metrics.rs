//! Metrics in CloudWatch Embedded Metric Format (EMF).
//!
//! Each request writes one JSON line to standard output; CloudWatch Logs
//! turns it into a metric in namespace [`NAMESPACE`] with the dimension
//! `EventBus`. The event type and the rejection reason are properties, not
//! dimensions, so that the number of metric series stays fixed.
//!
//! NOTE: the records carry no `level` field, so Lambda's log-level filtering
//! treats them as INFO (Lambda developer guide, "Log-level filtering"): an
//! application log level of WARN or ERROR drops the metrics with the logs.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

/// CloudWatch namespace of every metric.
pub const NAMESPACE: &str = "StripeEventBridge";

/// Metric that one request is counted under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// The event was put on the bus.
    Forwarded,
    /// The event was put on the bus as a pointer entry.
    OversizePointer,
    /// The request was rejected with a 4xx.
    Rejected,
    /// The event could not be put on the bus (5xx).
    ForwardFailure,
    /// A repeat of an event already on the bus was acknowledged.
    Duplicate,
}

impl Metric {
    /// Returns the CloudWatch metric name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Forwarded => "Forwarded",
            Self::OversizePointer => "OversizePointers",
            Self::Rejected => "Rejected",
            Self::ForwardFailure => "ForwardFailures",
            Self::Duplicate => "Duplicates",
        }
    }
}

#[derive(Debug, Clone)]
enum Output {
    Disabled,
    Stdout,
    Memory(Arc<Mutex<Vec<String>>>),
}

/// Destination of metric records.
#[derive(Debug, Clone)]
pub struct MetricsSink {
    event_bus: String,
    output: Output,
}

impl MetricsSink {
    /// Creates a sink that writes nothing.
    pub fn disabled() -> Self {
        Self {
            event_bus: String::new(),
            output: Output::Disabled,
        }
    }

    /// Creates a sink that writes EMF lines to standard output.
    pub fn stdout(event_bus: &str) -> Self {
        Self {
            event_bus: event_bus.to_owned(),
            output: Output::Stdout,
        }
    }

    /// Creates a sink that keeps lines in memory, for tests.
    pub fn memory(event_bus: &str) -> (Self, Arc<Mutex<Vec<String>>>) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Self {
            event_bus: event_bus.to_owned(),
            output: Output::Memory(Arc::clone(&lines)),
        };
        (sink, lines)
    }

    /// Records one count of `metric` with the event type and reason as properties.
    pub fn record(&self, metric: Metric, event_type: Option<&str>, reason: Option<&str>) {
        if matches!(self.output, Output::Disabled) {
            return;
        }
        let line = self.format(metric, event_type, reason);
        match &self.output {
            Output::Disabled => {}
            Output::Stdout => {
                let mut stdout = std::io::stdout().lock();
                // A failed write to stdout loses one metric; nothing to recover.
                let _ = writeln!(stdout, "{line}");
            }
            Output::Memory(lines) => lines
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(line),
        }
    }

    fn format(&self, metric: Metric, event_type: Option<&str>, reason: Option<&str>) -> String {
        let timestamp_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_millis());
        let name = metric.name();
        let mut record = serde_json::json!({
            "_aws": {
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [["EventBus"]],
                    "Metrics": [{"Name": name, "Unit": "Count"}],
                }],
            },
            "EventBus": self.event_bus,
            name: 1,
        });
        if let Some(event_type) = event_type {
            record["event_type"] = event_type.into();
        }
        if let Some(reason) = reason {
            record["reason"] = reason.into();
        }
        record.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_is_emf() {
        let (sink, lines) = MetricsSink::memory("stripe");
        sink.record(
            Metric::Rejected,
            Some("charge.succeeded"),
            Some("no_matching_signature"),
        );
        let lines = lines.lock().unwrap();
        assert_eq!(lines.len(), 1);
        let value: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        let directive = &value["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "StripeEventBridge");
        assert_eq!(directive["Dimensions"], serde_json::json!([["EventBus"]]));
        assert_eq!(directive["Metrics"][0]["Name"], "Rejected");
        assert_eq!(value["EventBus"], "stripe");
        assert_eq!(value["Rejected"], 1);
        assert_eq!(value["event_type"], "charge.succeeded");
        assert_eq!(value["reason"], "no_matching_signature");
        assert!(value["_aws"]["Timestamp"].as_u64().unwrap() > 1_700_000_000_000);
    }
}

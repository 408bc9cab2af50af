//! Receive Stripe webhooks in AWS Lambda and put each verified event on an
//! Amazon EventBridge bus, with the Stripe event type as `detail-type`.
//!
//! The library holds all the logic so that it can be tested without Lambda;
//! the `stripe-eventbridge` binary only wires configuration, logging and AWS
//! clients to [`handler::Receiver`]. Modules follow the data:
//! [`config`], [`allowlist`], [`signature`], [`event`], [`entry`],
//! [`claim_check`], [`dedup`], [`forward`], [`handler`], [`metrics`].

pub mod allowlist;
pub mod claim_check;
pub mod config;
pub mod dedup;
pub mod entry;
pub mod event;
pub mod forward;
pub mod handler;
pub mod logging;
pub mod metrics;
pub mod request;
pub mod secrets;
pub mod setup;
pub mod signature;

//! `stripe-eventbridge-sign`: signs a sample webhook again with the current
//! time, because a signed sample goes stale once its timestamp leaves the
//! receiver's tolerance (300 s by default).
//!
//! The input is an API Gateway event (REST v1 or HTTP API v2 shape) or a bare
//! Stripe event body. The body is signed byte for byte as the receiver will
//! see it: a base64 body is decoded first and the body is never
//! re-serialized. The output is the event with its `Stripe-Signature` header
//! replaced, a new event built around a bare body, the header alone, the body
//! alone, or a curl command that posts the body.
//!
//! Exit codes: 0 on success, 2 for a command-line problem, 1 for an input
//! that cannot be signed or a file that cannot be read or written.

use std::ffi::OsString;
use std::fmt;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format as DateFormat;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::de::{MapAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use stripe_eventbridge::config::{SecretFormatError, parse_secret_list};
use stripe_eventbridge::signature::signature_header;

const PROGRAM: &str = "stripe-eventbridge-sign";

/// Function URL that `cargo lambda watch` serves for the receiver binary on
/// its default port.
const DEFAULT_URL: &str = "http://127.0.0.1:9000/lambda-url/stripe-eventbridge/";

/// Latest timestamp accepted: 9999-12-31T23:59:59Z, the last second that the
/// API Gateway request time format can show.
const MAX_TIMESTAMP: u64 = 253_402_300_799;

const HELP: &str = "\
Sign a Stripe webhook sample again with the current time.

Usage: stripe-eventbridge-sign [OPTIONS] FILE

Arguments:
  FILE                 an API Gateway event (REST v1 or HTTP API v2 shape, as in
                       events/*.json) or a bare Stripe event body (a JSON object
                       with \"object\": \"event\" or \"v2.core.event\"); - reads
                       standard input

Options:
  --secret SECRET      signing secret (whsec_...) to compute the v1 signature with;
                       several separated by commas give one v1 each, as Stripe
                       sends while a secret is rolled. Default: $STRIPE_WEBHOOK_SECRET.
                       Prefer the variable: command lines are visible to other users.
  --timestamp T        time of the signature t=, in Unix seconds (default: now)
  --format FORMAT      what to print:
                         apigw-v2  an HTTP API (payload v2) event
                         apigw-v1  an API Gateway REST (payload v1) event
                         curl      a curl command that posts the body
                         header    the Stripe-Signature header value only
                         body      the raw body bytes only
                       Default: apigw-v2 for a bare body; an API Gateway event
                       keeps its own shape. An event of the other shape is
                       built anew around the same body.
  --url URL            address that the curl command posts to
                       (default: http://127.0.0.1:9000/lambda-url/stripe-eventbridge/)
  -o, --output FILE    write the output to FILE instead of standard output; with
                       --format curl the body goes to FILE.body, which the
                       command reads by its absolute path
  -h, --help           print this help

An event keeps all its other fields. Its Stripe-Signature header is replaced
(any letter case, in headers and multiValueHeaders), a base64 body stays
base64, and content-length is updated when the event has one.

Exit status: 0 on success, 2 for an invalid command line, 1 for an input that
cannot be signed or a file that cannot be read or written.
";

fn main() -> ExitCode {
    match run(std::env::args_os().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("{PROGRAM}: {failure}");
            ExitCode::from(failure.exit_code())
        }
    }
}

fn run(args: Vec<OsString>) -> Result<(), Failure> {
    let options = match parse_args(args)? {
        Command::Help => {
            print!("{HELP}");
            return Ok(());
        }
        Command::Sign(options) => options,
    };
    if options.url.is_some() && options.format != Some(Format::Curl) {
        return Err(Failure::Usage(
            "--url applies only to --format curl; add --format curl or drop --url".to_owned(),
        ));
    }

    let secrets = resolve_secrets(options.secret.as_deref())?;
    let timestamp = match options.timestamp {
        Some(timestamp) => timestamp,
        None => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|_| {
                Failure::Usage(
                    "the system clock is before 1970; pass --timestamp in Unix seconds".to_owned(),
                )
            })?
            .as_secs(),
    };

    let bytes = read_input(&options.input)?;
    let input = classify(bytes, &input_name(&options.input))?;
    let body_path = match (&options.output, options.format) {
        (Some(output), Some(Format::Curl)) => Some(body_file_path(output)?),
        _ => None,
    };
    let request = SignRequest {
        secrets: &secrets,
        timestamp,
        format: options.format,
        url: options.url.as_deref().unwrap_or(DEFAULT_URL),
        body_path: body_path.as_deref(),
    };
    let rendered = render(&input, &request)?;

    if let (Some(path), Some(body)) = (&body_path, &rendered.body_file) {
        write_file(path, body)?;
    }
    match &options.output {
        Some(path) => write_file(path, &rendered.output),
        None => {
            let mut stdout = io::stdout().lock();
            stdout
                .write_all(&rendered.output)
                .and_then(|()| stdout.flush())
                .map_err(|error| Failure::Input(format!("cannot write standard output: {error}")))
        }
    }
}

// ---------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------

/// Reason the program stops without output.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Failure {
    /// The command line is invalid: exit code 2.
    Usage(String),
    /// The input cannot be signed, or a file cannot be read or written: exit code 1.
    Input(String),
}

impl Failure {
    fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => 2,
            Self::Input(_) => 1,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Usage(message) | Self::Input(message) => f.write_str(message),
        }
    }
}

/// Output formats of `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    ApigwV1,
    ApigwV2,
    Curl,
    Header,
    Body,
}

impl Format {
    fn parse(text: &str) -> Result<Self, Failure> {
        match text {
            "apigw-v1" => Ok(Self::ApigwV1),
            "apigw-v2" => Ok(Self::ApigwV2),
            "curl" => Ok(Self::Curl),
            "header" => Ok(Self::Header),
            "body" => Ok(Self::Body),
            other => Err(Failure::Usage(format!(
                "invalid --format {other:?}; expected apigw-v2, apigw-v1, curl, header or body"
            ))),
        }
    }
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Options {
    /// Input path, or `-` for standard input.
    input: String,
    secret: Option<String>,
    timestamp: Option<u64>,
    format: Option<Format>,
    url: Option<String>,
    output: Option<PathBuf>,
}

#[derive(Debug, PartialEq, Eq)]
enum Command {
    Help,
    Sign(Options),
}

fn usage_hint(problem: impl fmt::Display) -> Failure {
    Failure::Usage(format!("{problem}; run {PROGRAM} --help for usage"))
}

/// Parses the arguments after the program name. Options take their value as
/// the next argument or after `=` (`--format=curl`); `--` ends the options.
fn parse_args(args: Vec<OsString>) -> Result<Command, Failure> {
    let mut args = args.into_iter();
    let mut options = Options::default();
    let mut input: Option<String> = None;
    let mut options_ended = false;

    while let Some(arg) = args.next() {
        let arg = arg
            .into_string()
            .map_err(|arg| usage_hint(format!("argument {arg:?} is not valid UTF-8")))?;
        if options_ended || arg == "-" || !arg.starts_with('-') {
            if let Some(first) = &input {
                return Err(usage_hint(format!(
                    "expected one FILE, got {first:?} and {arg:?}"
                )));
            }
            input = Some(arg);
            continue;
        }
        if arg == "--" {
            options_ended = true;
            continue;
        }

        let (name, mut inline_value) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => {
                (name.to_owned(), Some(value.to_owned()))
            }
            _ => (arg, None),
        };
        let has_inline_value = inline_value.is_some();
        let mut take_value = || {
            inline_value
                .take()
                .or_else(|| args.next().and_then(|value| value.into_string().ok()))
                .ok_or_else(|| usage_hint(format!("{name} needs a value")))
        };
        match name.as_str() {
            "-h" | "--help" if !has_inline_value => return Ok(Command::Help),
            "--secret" => set_once(&mut options.secret, take_value()?, "--secret")?,
            "--timestamp" => {
                let timestamp = parse_timestamp(&take_value()?)?;
                set_once(&mut options.timestamp, timestamp, "--timestamp")?;
            }
            "--format" => {
                let format = Format::parse(&take_value()?)?;
                set_once(&mut options.format, format, "--format")?;
            }
            "--url" => {
                let url = take_value()?;
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(usage_hint(format!(
                        "invalid --url {url:?}; expected an http:// or https:// address"
                    )));
                }
                set_once(&mut options.url, url, "--url")?;
            }
            "-o" | "--output" => {
                let output = take_value()?;
                if output.is_empty() {
                    return Err(usage_hint("--output needs a file name"));
                }
                set_once(&mut options.output, PathBuf::from(output), "--output")?;
            }
            "-h" | "--help" => return Err(usage_hint(format!("{name} takes no value"))),
            _ => return Err(usage_hint(format!("unknown option {name}"))),
        }
        if inline_value.is_some() {
            return Err(usage_hint(format!("{name} takes no value")));
        }
    }

    options.input = input.ok_or_else(|| usage_hint("missing FILE (use - for standard input)"))?;
    Ok(Command::Sign(options))
}

fn set_once<T>(slot: &mut Option<T>, value: T, name: &str) -> Result<(), Failure> {
    if slot.replace(value).is_some() {
        return Err(usage_hint(format!("{name} is given more than once")));
    }
    Ok(())
}

fn parse_timestamp(text: &str) -> Result<u64, Failure> {
    let invalid = || {
        usage_hint(format!(
            "invalid --timestamp {text:?}; expected Unix seconds from 0 to {MAX_TIMESTAMP}, such as 1767225600"
        ))
    };
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    text.parse::<u64>()
        .ok()
        .filter(|timestamp| *timestamp <= MAX_TIMESTAMP)
        .ok_or_else(invalid)
}

/// Reads and validates the signing secrets from `--secret` or
/// `STRIPE_WEBHOOK_SECRET`. Messages never contain a secret.
fn resolve_secrets(option: Option<&str>) -> Result<Vec<String>, Failure> {
    let (source, text) = match option {
        Some(text) => ("--secret", text.to_owned()),
        None => match std::env::var("STRIPE_WEBHOOK_SECRET") {
            Ok(text) if !text.trim().is_empty() => ("STRIPE_WEBHOOK_SECRET", text),
            _ => {
                return Err(Failure::Usage(
                    "no signing secret; pass --secret whsec_... or set STRIPE_WEBHOOK_SECRET"
                        .to_owned(),
                ));
            }
        },
    };
    parse_secrets(source, &text)
}

fn parse_secrets(source: &str, text: &str) -> Result<Vec<String>, Failure> {
    let secrets = parse_secret_list(text).map_err(|(position, problem)| {
        let fix = match problem {
            SecretFormatError::ApiKey => "",
            SecretFormatError::NotWhsec | SecretFormatError::EmptyAfterPrefix => {
                "; use the endpoint's signing secret (whsec_...) from the Stripe dashboard or `stripe listen`"
            }
        };
        let problem = if position == 0 {
            "holds no secret".to_owned()
        } else {
            format!("secret {position} {problem}")
        };
        Failure::Usage(format!("invalid {source}: {problem}{fix}"))
    })?;
    Ok(secrets
        .iter()
        .map(|secret| secret.expose().to_owned())
        .collect())
}

fn input_name(input: &str) -> String {
    if input == "-" {
        "standard input".to_owned()
    } else {
        input.to_owned()
    }
}

fn read_input(input: &str) -> Result<Vec<u8>, Failure> {
    let mut bytes = Vec::new();
    let result = if input == "-" {
        io::stdin().lock().read_to_end(&mut bytes).map(|_| ())
    } else {
        std::fs::read(input).map(|content| bytes = content)
    };
    result
        .map_err(|error| Failure::Input(format!("cannot read {}: {error}", input_name(input))))?;
    Ok(bytes)
}

fn write_file(path: &Path, content: &[u8]) -> Result<(), Failure> {
    std::fs::write(path, content)
        .map_err(|error| Failure::Input(format!("cannot write {}: {error}", path.display())))
}

/// Returns the absolute path of the body file that goes with a curl command
/// written to `output`: the same name with `.body` appended.
fn body_file_path(output: &Path) -> Result<PathBuf, Failure> {
    let mut name = output.as_os_str().to_owned();
    name.push(".body");
    std::path::absolute(PathBuf::from(name)).map_err(|error| {
        Failure::Input(format!(
            "cannot resolve the body file path next to {}: {error}",
            output.display()
        ))
    })
}

// ---------------------------------------------------------------------------
// Input
// ---------------------------------------------------------------------------

/// The two API Gateway event shapes the receiver reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// REST API (payload format 1.0): `httpMethod`, `headers`, `multiValueHeaders`.
    RestV1,
    /// HTTP API and Function URL (payload format 2.0): `"version": "2.0"`.
    HttpV2,
}

/// A parsed input file.
#[derive(Debug)]
enum Input {
    /// A bare Stripe event body, kept byte for byte.
    Body(Vec<u8>),
    /// An API Gateway event and the body bytes that the receiver will see.
    Gateway(GatewayEvent),
}

#[derive(Debug)]
struct GatewayEvent {
    shape: Shape,
    event: Object,
    body: Vec<u8>,
    base64: bool,
}

impl Input {
    fn body(&self) -> &[u8] {
        match self {
            Self::Body(body) => body,
            Self::Gateway(gateway) => &gateway.body,
        }
    }
}

/// Classifies the input as a bare Stripe event or an API Gateway event and
/// extracts the body.
fn classify(bytes: Vec<u8>, name: &str) -> Result<Input, Failure> {
    const EXPECTED: &str =
        "expected an API Gateway event (REST v1 or HTTP API v2) or a Stripe event body";

    let raw: Box<RawValue> = serde_json::from_slice(&bytes).map_err(|error| {
        Failure::Input(format!("{name} is not valid JSON ({error}); {EXPECTED}"))
    })?;
    let object = match Json::parse(&raw) {
        Ok(Json::Object(object)) => object,
        Ok(_) => {
            return Err(Failure::Input(format!(
                "{name} is not a JSON object; {EXPECTED}"
            )));
        }
        Err(error) => {
            return Err(Failure::Input(format!(
                "{name} is not valid JSON ({error}); {EXPECTED}"
            )));
        }
    };

    let object_kind = object.get("object").and_then(Json::as_string);
    if matches!(object_kind.as_deref(), Some("event" | "v2.core.event")) {
        return Ok(Input::Body(bytes));
    }

    let shape = if object.get("version").and_then(Json::as_string).as_deref() == Some("2.0") {
        Shape::HttpV2
    } else if object.get("httpMethod").is_some() {
        Shape::RestV1
    } else {
        return Err(Failure::Input(format!(
            "{name} is neither an API Gateway event (no \"httpMethod\", no \"version\": \"2.0\") \
             nor a Stripe event (\"object\" is not \"event\" or \"v2.core.event\"); {EXPECTED}"
        )));
    };

    let base64 = match object.get("isBase64Encoded") {
        None => false,
        Some(value) if value.is_null() => false,
        Some(value) => value.as_bool().ok_or_else(|| {
            Failure::Input(format!(
                "{name}: isBase64Encoded is not true or false; set it to a JSON boolean"
            ))
        })?,
    };
    let body_text = object
        .get("body")
        .and_then(Json::as_string)
        .ok_or_else(|| {
            Failure::Input(format!(
                "{name} has no \"body\" string; add the Stripe event as the event's body"
            ))
        })?;
    let body = if base64 {
        BASE64.decode(body_text.as_bytes()).map_err(|error| {
            Failure::Input(format!(
                "{name}: body is marked isBase64Encoded but is not valid base64 ({error}); \
                 fix the body or set isBase64Encoded to false"
            ))
        })?
    } else {
        body_text.into_bytes()
    };

    Ok(Input::Gateway(GatewayEvent {
        shape,
        event: object,
        body,
        base64,
    }))
}

// ---------------------------------------------------------------------------
// Signing and output
// ---------------------------------------------------------------------------

struct SignRequest<'a> {
    secrets: &'a [String],
    timestamp: u64,
    format: Option<Format>,
    url: &'a str,
    /// Body file that the curl command reads. `None` embeds the body in the command.
    body_path: Option<&'a Path>,
}

/// Output of one run: the main output and, for a curl command with
/// `--output`, the body file it reads.
#[derive(Debug)]
struct Rendered {
    output: Vec<u8>,
    body_file: Option<Vec<u8>>,
}

impl Rendered {
    fn text(text: String) -> Self {
        Self {
            output: text.into_bytes(),
            body_file: None,
        }
    }
}

fn render(input: &Input, request: &SignRequest<'_>) -> Result<Rendered, Failure> {
    let secrets: Vec<&str> = request.secrets.iter().map(String::as_str).collect();
    let body = input.body();
    let header = signature_header(&secrets, request.timestamp, body);

    let shape = match (request.format, input) {
        (Some(Format::Header), _) => return Ok(Rendered::text(format!("{header}\n"))),
        (Some(Format::Body), _) => {
            return Ok(Rendered {
                output: body.to_vec(),
                body_file: None,
            });
        }
        (Some(Format::Curl), _) => return curl_command(body, &header, request),
        (Some(Format::ApigwV1), _) => Shape::RestV1,
        (Some(Format::ApigwV2), _) => Shape::HttpV2,
        (None, Input::Body(_)) => Shape::HttpV2,
        (None, Input::Gateway(gateway)) => gateway.shape,
    };

    let event = match input {
        Input::Gateway(gateway) if gateway.shape == shape => resign_event(gateway, &header)?,
        Input::Gateway(gateway) => {
            new_event(shape, body, gateway.base64, &header, request.timestamp)?
        }
        Input::Body(body) => new_event(shape, body, false, &header, request.timestamp)?,
    };
    let mut text = serde_json::to_string_pretty(&event)
        .map_err(|error| Failure::Input(format!("cannot serialize the event: {error}")))?;
    text.push('\n');
    Ok(Rendered::text(text))
}

/// Returns a copy of the event with its `Stripe-Signature` header replaced
/// and its `content-length` updated; every other field is kept as it was.
fn resign_event(gateway: &GatewayEvent, header: &str) -> Result<Json, Failure> {
    let mut event = gateway.event.clone();
    let signature = Json::string(header);
    let length = gateway.body.len().to_string();

    let (signature_name, length_name) = match gateway.shape {
        Shape::RestV1 => ("Stripe-Signature", "Content-Length"),
        Shape::HttpV2 => ("stripe-signature", "content-length"),
    };
    let headers = event.object_entry("headers")?;
    headers.set_ignore_case(signature_name, signature.clone());
    headers.replace_ignore_case(length_name, Json::string(&length));

    // The receiver reads `multiValueHeaders` first and other readers such
    // as lambda_http read `headers` first, so the two are kept in agreement.
    if gateway.shape == Shape::RestV1
        && let Some(multi) = event.existing_object("multiValueHeaders")?
    {
        multi.set_ignore_case(signature_name, Json::Array(vec![signature]));
        multi.replace_ignore_case(length_name, Json::Array(vec![Json::string(&length)]));
    }
    Ok(Json::Object(event))
}

/// Builds a complete API Gateway event for `POST /webhook` around a body,
/// shaped like the samples in `events/`.
fn new_event(
    shape: Shape,
    body: &[u8],
    base64: bool,
    header: &str,
    timestamp: u64,
) -> Result<Json, Failure> {
    let body_field = if base64 {
        BASE64.encode(body)
    } else {
        String::from_utf8(body.to_vec()).map_err(|error| {
            Failure::Input(format!(
                "body is not valid UTF-8 (first invalid byte at offset {}); \
                 it can only be sent base64-encoded",
                error.utf8_error().valid_up_to()
            ))
        })?
    };
    let ids = RequestIds::derive(timestamp, body);
    let time = request_time(timestamp)?;
    let epoch_millis = timestamp * 1000;

    let event = match shape {
        Shape::HttpV2 => Json::object([
            ("version", Json::string("2.0")),
            ("routeKey", Json::string("POST /webhook")),
            ("rawPath", Json::string("/webhook")),
            ("rawQueryString", Json::string("")),
            (
                "headers",
                Json::Object(gateway_headers(Shape::HttpV2, body.len(), header, &ids)),
            ),
            (
                "requestContext",
                Json::object([
                    ("accountId", Json::string(AWS_ACCOUNT_ID)),
                    ("apiId", Json::string(HTTP_API_ID)),
                    ("domainName", Json::string(&domain_name(HTTP_API_ID))),
                    ("domainPrefix", Json::string(HTTP_API_ID)),
                    (
                        "http",
                        Json::object([
                            ("method", Json::string("POST")),
                            ("path", Json::string("/webhook")),
                            ("protocol", Json::string("HTTP/1.1")),
                            ("sourceIp", Json::string(STRIPE_SOURCE_IP)),
                            ("userAgent", Json::string(STRIPE_USER_AGENT)),
                        ]),
                    ),
                    ("requestId", Json::string(&ids.http_request_id)),
                    ("routeKey", Json::string("POST /webhook")),
                    ("stage", Json::string("$default")),
                    ("time", Json::string(&time)),
                    ("timeEpoch", Json::number(epoch_millis)),
                ]),
            ),
            ("body", Json::string(&body_field)),
            ("isBase64Encoded", Json::boolean(base64)),
        ]),
        Shape::RestV1 => {
            let headers = gateway_headers(Shape::RestV1, body.len(), header, &ids);
            let multi_value_headers = Object(
                headers
                    .0
                    .iter()
                    .map(|(name, value)| (name.clone(), Json::Array(vec![value.clone()])))
                    .collect(),
            );
            Json::object([
                ("resource", Json::string("/webhook")),
                ("path", Json::string("/webhook")),
                ("httpMethod", Json::string("POST")),
                ("headers", Json::Object(headers)),
                ("multiValueHeaders", Json::Object(multi_value_headers)),
                ("queryStringParameters", Json::null()),
                ("multiValueQueryStringParameters", Json::null()),
                ("pathParameters", Json::null()),
                ("stageVariables", Json::null()),
                (
                    "requestContext",
                    Json::object([
                        ("resourceId", Json::string("w3bh0k")),
                        ("resourcePath", Json::string("/webhook")),
                        ("httpMethod", Json::string("POST")),
                        ("extendedRequestId", Json::string(&ids.http_request_id)),
                        ("requestTime", Json::string(&time)),
                        ("path", Json::string("/prod/webhook")),
                        ("accountId", Json::string(AWS_ACCOUNT_ID)),
                        ("protocol", Json::string("HTTP/1.1")),
                        ("stage", Json::string("prod")),
                        ("domainPrefix", Json::string(REST_API_ID)),
                        ("requestTimeEpoch", Json::number(epoch_millis)),
                        ("requestId", Json::string(&ids.rest_request_id)),
                        (
                            "identity",
                            Json::object([
                                ("cognitoIdentityPoolId", Json::null()),
                                ("accountId", Json::null()),
                                ("cognitoIdentityId", Json::null()),
                                ("caller", Json::null()),
                                ("sourceIp", Json::string(STRIPE_SOURCE_IP)),
                                ("principalOrgId", Json::null()),
                                ("accessKey", Json::null()),
                                ("cognitoAuthenticationType", Json::null()),
                                ("cognitoAuthenticationProvider", Json::null()),
                                ("userArn", Json::null()),
                                ("userAgent", Json::string(STRIPE_USER_AGENT)),
                                ("user", Json::null()),
                            ]),
                        ),
                        ("domainName", Json::string(&domain_name(REST_API_ID))),
                        ("apiId", Json::string(REST_API_ID)),
                    ]),
                ),
                ("body", Json::string(&body_field)),
                ("isBase64Encoded", Json::boolean(base64)),
            ])
        }
    };
    Ok(event)
}

/// AWS's documentation example account id.
const AWS_ACCOUNT_ID: &str = "123456789012";
const HTTP_API_ID: &str = "q4x7n2k9wd";
const REST_API_ID: &str = "m8c3v6z1tb";
/// One of the addresses Stripe documents as sending webhooks.
const STRIPE_SOURCE_IP: &str = "54.187.174.169";
const STRIPE_USER_AGENT: &str = "Stripe/1.0 (+https://stripe.com/docs/webhooks)";

fn domain_name(api_id: &str) -> String {
    format!("{api_id}.execute-api.us-east-1.amazonaws.com")
}

/// Request and trace ids derived from the timestamp and body, so that the same
/// input gives the same event.
struct RequestIds {
    /// HTTP API style, such as `dS7UkozlSMnIz3y=`.
    http_request_id: String,
    /// REST API style, a UUID.
    rest_request_id: String,
    /// X-Ray trace header: `Root=1-<epoch seconds, 8 hex digits>-<24 hex digits>`.
    trace_id: String,
}

impl RequestIds {
    fn derive(timestamp: u64, body: &[u8]) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(timestamp.to_be_bytes());
        hasher.update(body);
        let digest = hasher.finalize();
        let uuid = hex::encode(&digest[..16]);
        Self {
            http_request_id: BASE64.encode(&digest[16..27]),
            rest_request_id: format!(
                "{}-{}-4{}-a{}-{}",
                &uuid[..8],
                &uuid[8..12],
                &uuid[13..16],
                &uuid[17..20],
                &uuid[20..32]
            ),
            trace_id: format!("Root=1-{:08x}-{}", timestamp, hex::encode(&digest[20..32])),
        }
    }
}

/// Formats Unix seconds as API Gateway's request time, `01/Jan/2026:00:00:00 +0000`.
fn request_time(timestamp: u64) -> Result<String, Failure> {
    let out_of_range = || Failure::Usage(format!("timestamp {timestamp} is out of range"));
    let seconds = i64::try_from(timestamp).map_err(|_| out_of_range())?;
    // The HTTP date is "Thu, 01 Jan 2026 00:00:00 GMT".
    let http_date = DateTime::from_secs(seconds)
        .fmt(DateFormat::HttpDate)
        .map_err(|_| out_of_range())?;
    match http_date.split(' ').collect::<Vec<_>>()[..] {
        [_, day, month, year, clock, "GMT"] => Ok(format!("{day}/{month}/{year}:{clock} +0000")),
        _ => Err(out_of_range()),
    }
}

/// Returns the headers API Gateway passes on from a Stripe delivery: lower
/// case for HTTP APIs, as sent for REST APIs.
fn gateway_headers(shape: Shape, body_len: usize, header: &str, ids: &RequestIds) -> Object {
    let host = match shape {
        Shape::HttpV2 => domain_name(HTTP_API_ID),
        Shape::RestV1 => domain_name(REST_API_ID),
    };
    let headers = [
        ("Accept", "*/*; q=0.5, application/xml".to_owned()),
        ("Cache-Control", "no-cache".to_owned()),
        ("Content-Length", body_len.to_string()),
        ("Content-Type", "application/json; charset=utf-8".to_owned()),
        ("Host", host),
        ("Stripe-Signature", header.to_owned()),
        ("User-Agent", STRIPE_USER_AGENT.to_owned()),
        ("X-Amzn-Trace-Id", ids.trace_id.clone()),
        ("X-Forwarded-For", STRIPE_SOURCE_IP.to_owned()),
        ("X-Forwarded-Port", "443".to_owned()),
        ("X-Forwarded-Proto", "https".to_owned()),
    ];
    Object(
        headers
            .into_iter()
            .map(|(name, value)| {
                let name = match shape {
                    Shape::HttpV2 => name.to_ascii_lowercase(),
                    Shape::RestV1 => name.to_owned(),
                };
                (name, Json::string(&value))
            })
            .collect(),
    )
}

/// Builds a curl command that posts the exact body bytes. With a body path the
/// command reads the body file. Without one, `printf` pipes the body in, and
/// single quotes keep the shell from interpreting any byte of it.
fn curl_command(body: &[u8], header: &str, request: &SignRequest<'_>) -> Result<Rendered, Failure> {
    let curl = format!(
        "curl --silent --show-error --include --request POST {url} \\\n  \
         --header 'Content-Type: application/json' \\\n  \
         --header {signature} \\\n  \
         --data-binary @",
        url = shell_quote_text(request.url),
        signature = shell_quote_text(&format!("Stripe-Signature: {header}")),
    );
    match request.body_path {
        Some(path) => {
            let path = path.to_str().ok_or_else(|| {
                Failure::Input(format!(
                    "body file path {} is not valid UTF-8; choose another --output",
                    path.display()
                ))
            })?;
            let mut command = curl;
            command.push_str(&shell_quote_text(path));
            command.push('\n');
            Ok(Rendered {
                output: command.into_bytes(),
                body_file: Some(body.to_vec()),
            })
        }
        None => {
            if body.contains(&0) {
                return Err(Failure::Input(
                    "body contains NUL bytes, which a shell argument cannot carry; \
                     pass --output FILE so that the body is written to FILE.body"
                        .to_owned(),
                ));
            }
            let mut command = b"printf '%s' ".to_vec();
            command.extend_from_slice(&shell_quote(body));
            command.extend_from_slice(b" |\n");
            command.extend_from_slice(curl.as_bytes());
            command.extend_from_slice(b"-\n");
            Ok(Rendered {
                output: command,
                body_file: None,
            })
        }
    }
}

/// Quotes bytes for a POSIX shell. Inside single quotes the shell takes every
/// byte literally, so only a single quote needs escaping, as `'\''`.
fn shell_quote(bytes: &[u8]) -> Vec<u8> {
    let mut quoted = Vec::with_capacity(bytes.len() + 2);
    quoted.push(b'\'');
    for &byte in bytes {
        if byte == b'\'' {
            quoted.extend_from_slice(b"'\\''");
        } else {
            quoted.push(byte);
        }
    }
    quoted.push(b'\'');
    quoted
}

fn shell_quote_text(text: &str) -> String {
    String::from_utf8(shell_quote(text.as_bytes()))
        .expect("adding ASCII quotes and backslashes keeps UTF-8 valid")
}

// ---------------------------------------------------------------------------
// JSON that keeps its key order
// ---------------------------------------------------------------------------

/// A JSON value whose objects keep their key order and whose scalars keep
/// their exact text (number format, string escapes), so that an edited event
/// differs from its input only where it was edited.
#[derive(Debug, Clone)]
enum Json {
    Scalar(Box<RawValue>),
    Array(Vec<Json>),
    Object(Object),
}

/// A JSON object as an ordered list of entries.
#[derive(Debug, Clone, Default)]
struct Object(Vec<(String, Json)>);

impl Json {
    fn parse(raw: &RawValue) -> Result<Self, serde_json::Error> {
        match raw.get().as_bytes().first() {
            Some(b'{') => {
                let entries: Entries = serde_json::from_str(raw.get())?;
                let mut object = Object::default();
                for (key, value) in entries.0 {
                    object.0.push((key, Self::parse(&value)?));
                }
                Ok(Self::Object(object))
            }
            Some(b'[') => {
                let items: Vec<Box<RawValue>> = serde_json::from_str(raw.get())?;
                let items = items
                    .iter()
                    .map(|item| Self::parse(item))
                    .collect::<Result<_, _>>()?;
                Ok(Self::Array(items))
            }
            _ => Ok(Self::Scalar(raw.to_owned())),
        }
    }

    fn scalar<T: Serialize + ?Sized>(value: &T) -> Self {
        Self::Scalar(
            serde_json::value::to_raw_value(value)
                .expect("strings, numbers, booleans and null always serialize"),
        )
    }

    fn string(text: &str) -> Self {
        Self::scalar(text)
    }

    fn number(number: u64) -> Self {
        Self::scalar(&number)
    }

    fn boolean(value: bool) -> Self {
        Self::scalar(&value)
    }

    fn null() -> Self {
        Self::scalar(&())
    }

    fn object<const N: usize>(entries: [(&str, Json); N]) -> Self {
        Self::Object(Object(
            entries
                .into_iter()
                .map(|(key, value)| (key.to_owned(), value))
                .collect(),
        ))
    }

    /// Returns the string value, unescaped, or `None` for any other value.
    fn as_string(&self) -> Option<String> {
        match self {
            Self::Scalar(raw) if raw.get().starts_with('"') => serde_json::from_str(raw.get()).ok(),
            _ => None,
        }
    }

    fn as_bool(&self) -> Option<bool> {
        match self {
            Self::Scalar(raw) => match raw.get() {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            },
            _ => None,
        }
    }

    fn is_null(&self) -> bool {
        matches!(self, Self::Scalar(raw) if raw.get() == "null")
    }
}

impl Object {
    fn get(&self, key: &str) -> Option<&Json> {
        self.0
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value)
    }

    /// Returns the object stored under `key`, creating it when the key is
    /// absent or null.
    fn object_entry(&mut self, key: &str) -> Result<&mut Object, Failure> {
        let index = match self.0.iter().position(|(name, _)| name == key) {
            Some(index) => index,
            None => {
                self.0
                    .push((key.to_owned(), Json::Object(Object::default())));
                self.0.len() - 1
            }
        };
        let slot = &mut self.0[index].1;
        if slot.is_null() {
            *slot = Json::Object(Object::default());
        }
        match slot {
            Json::Object(object) => Ok(object),
            _ => Err(Failure::Input(format!(
                "\"{key}\" is not a JSON object; expected a map of header names to values"
            ))),
        }
    }

    /// Returns the object stored under `key`, or `None` when the key is absent
    /// or null.
    fn existing_object(&mut self, key: &str) -> Result<Option<&mut Object>, Failure> {
        match self.0.iter_mut().find(|(name, _)| name == key) {
            None => Ok(None),
            Some((_, value)) if value.is_null() => Ok(None),
            Some((_, Json::Object(object))) => Ok(Some(object)),
            Some(_) => Err(Failure::Input(format!(
                "\"{key}\" is not a JSON object; expected a map of header names to lists of values"
            ))),
        }
    }

    /// Sets a header whatever the letter case of its existing name: the first
    /// match keeps its name and position and takes the value, other matches
    /// are removed, and a missing header is appended as `name`.
    fn set_ignore_case(&mut self, name: &str, value: Json) {
        if !self.replace_ignore_case(name, value.clone()) {
            self.0.push((name.to_owned(), value));
        }
    }

    /// Like [`Object::set_ignore_case`] but leaves a missing header missing.
    /// Returns whether the header was present.
    fn replace_ignore_case(&mut self, name: &str, value: Json) -> bool {
        let mut value = Some(value);
        self.0.retain_mut(|(key, slot)| {
            if !key.eq_ignore_ascii_case(name) {
                return true;
            }
            match value.take() {
                Some(new_value) => {
                    *slot = new_value;
                    true
                }
                None => false,
            }
        });
        value.is_none()
    }
}

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Scalar(raw) => raw.serialize(serializer),
            Self::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Self::Object(object) => {
                let mut map = serializer.serialize_map(Some(object.0.len()))?;
                for (key, value) in &object.0 {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
        }
    }
}

/// The entries of one JSON object in input order, values left unparsed.
struct Entries(Vec<(String, Box<RawValue>)>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor;

        impl<'de> Visitor<'de> for EntriesVisitor {
            type Value = Entries;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(entry) = map.next_entry::<String, Box<RawValue>>()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }

        deserializer.deserialize_map(EntriesVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stripe_eventbridge::config::WebhookSecret;
    use stripe_eventbridge::request::WebhookRequest;
    use stripe_eventbridge::signature::{Verification, parse_header, verify};

    const SECRET: &str = "whsec_sign_tool_test";
    const OTHER_SECRET: &str = "whsec_sign_tool_other";
    const NOW: u64 = 1_767_225_600;
    const BODY: &str = "{\"id\":\"evt_1\",\"object\":\"event\",\"type\":\"charge.succeeded\",\
                        \"data\":{\"object\":{\"description\":\"caf\u{e9} \\\"quoted\\\" \u{1f600}\"}}}";

    fn sign(input: &[u8], format: Option<Format>) -> Result<Rendered, Failure> {
        let secrets = vec![SECRET.to_owned()];
        let request = SignRequest {
            secrets: &secrets,
            timestamp: NOW,
            format,
            url: DEFAULT_URL,
            body_path: None,
        };
        render(&classify(input.to_vec(), "test input")?, &request)
    }

    fn output_json(rendered: &Rendered) -> serde_json::Value {
        serde_json::from_slice(&rendered.output).expect("output is JSON")
    }

    fn verifies(header: &str, body: &[u8], secret: &str) -> bool {
        let parsed = parse_header(header).expect("header parses");
        let secrets = [WebhookSecret::new(secret).expect("valid secret")];
        let settings = Verification {
            now: NOW,
            tolerance_secs: 300,
        };
        verify(&parsed, body, &secrets, settings).is_ok()
    }

    fn v2_event(body: &str, base64: bool, headers: serde_json::Value) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "version": "2.0",
            "routeKey": "POST /webhook",
            "rawPath": "/webhook",
            "headers": headers,
            "requestContext": {"http": {"method": "POST", "path": "/webhook"}},
            "body": body,
            "isBase64Encoded": base64,
        }))
        .unwrap()
    }

    #[test]
    fn header_round_trip_verifies() {
        let rendered = sign(BODY.as_bytes(), Some(Format::Header)).unwrap();
        let text = String::from_utf8(rendered.output).unwrap();
        let header = text.strip_suffix('\n').expect("header ends with a newline");
        assert!(header.starts_with(&format!("t={NOW},v1=")), "{header}");
        assert!(verifies(header, BODY.as_bytes(), SECRET), "header {header}");
        assert!(
            !verifies(header, BODY.as_bytes(), OTHER_SECRET),
            "header {header}"
        );
    }

    #[test]
    fn each_secret_gets_a_v1() {
        let secrets = parse_secrets("--secret", &format!("{SECRET}, {OTHER_SECRET}")).unwrap();
        let request = SignRequest {
            secrets: &secrets,
            timestamp: NOW,
            format: Some(Format::Header),
            url: DEFAULT_URL,
            body_path: None,
        };
        let input = classify(BODY.as_bytes().to_vec(), "test input").unwrap();
        let text = String::from_utf8(render(&input, &request).unwrap().output).unwrap();
        let header = text.trim_end();
        assert_eq!(header.matches(",v1=").count(), 2, "{header}");
        assert!(verifies(header, BODY.as_bytes(), SECRET), "{header}");
        assert!(verifies(header, BODY.as_bytes(), OTHER_SECRET), "{header}");
    }

    #[test]
    fn body_format_is_byte_exact() {
        // Whitespace and key order a serializer would change.
        let body = "{ \"object\" : \"event\", \"id\":\"evt_2\",\n\"type\":\"x\" }\n";
        let rendered = sign(body.as_bytes(), Some(Format::Body)).unwrap();
        assert_eq!(rendered.output, body.as_bytes());
    }

    /// Checks that lambda_http and the receiver both read `text` as a signed
    /// POST of `BODY` to `path`, and returns its Stripe-Signature value.
    fn assert_signed_post(text: &str, path: &str) -> String {
        let request = lambda_http::request::from_str(text).expect("lambda_http reads the event");
        assert_eq!(request.method(), "POST");
        assert_eq!(request.uri().path(), path);
        let header = request.headers()["stripe-signature"].to_str().unwrap();
        assert!(verifies(header, BODY.as_bytes(), SECRET), "{header}");
        assert_eq!(request.body().as_ref(), BODY.as_bytes());

        let ours: WebhookRequest = serde_json::from_str(text).expect("the receiver reads it");
        assert_eq!(ours.method(), "POST");
        assert_eq!(ours.signatures(), [header]);
        header.to_owned()
    }

    #[test]
    fn bare_body_becomes_v2_event() {
        let rendered = sign(BODY.as_bytes(), None).unwrap();
        let text = String::from_utf8(rendered.output).unwrap();
        assert_signed_post(&text, "/webhook");

        let event = serde_json::from_str::<serde_json::Value>(&text).unwrap();
        assert_eq!(event["version"], "2.0");
        assert_eq!(event["isBase64Encoded"], false);
        assert_eq!(
            event["requestContext"]["time"],
            "01/Jan/2026:00:00:00 +0000"
        );
        assert_eq!(event["headers"]["content-length"], BODY.len().to_string());
    }

    #[test]
    fn bare_body_becomes_v1_event() {
        let rendered = sign(BODY.as_bytes(), Some(Format::ApigwV1)).unwrap();
        let text = String::from_utf8(rendered.output).unwrap();
        let header = assert_signed_post(&text, "/prod/webhook");

        let event = serde_json::from_str::<serde_json::Value>(&text).unwrap();
        assert_eq!(event["multiValueHeaders"]["Stripe-Signature"][0], header);
        assert_eq!(
            event["requestContext"]["requestTime"],
            "01/Jan/2026:00:00:00 +0000"
        );
    }

    #[test]
    fn base64_input_stays_base64() {
        let encoded = BASE64.encode(BODY);
        let input = v2_event(&encoded, true, serde_json::json!({"content-length": "1"}));
        let event = output_json(&sign(&input, None).unwrap());
        assert_eq!(event["isBase64Encoded"], true);
        assert_eq!(event["body"], encoded.as_str());
        let header = event["headers"]["stripe-signature"].as_str().unwrap();
        assert!(
            verifies(header, BODY.as_bytes(), SECRET),
            "signs the decoded bytes: {header}"
        );
        assert_eq!(event["headers"]["content-length"], BODY.len().to_string());
    }

    #[test]
    fn base64_input_stays_base64_across_shapes() {
        let encoded = BASE64.encode(BODY);
        let input = v2_event(&encoded, true, serde_json::json!({}));
        let event = output_json(&sign(&input, Some(Format::ApigwV1)).unwrap());
        assert_eq!(event["httpMethod"], "POST");
        assert_eq!(event["isBase64Encoded"], true);
        assert_eq!(event["body"], encoded.as_str());
    }

    #[test]
    fn invalid_base64_is_rejected() {
        let input = v2_event("not base64!", true, serde_json::json!({}));
        let failure = sign(&input, None).unwrap_err();
        assert_eq!(failure.exit_code(), 1, "{failure}");
        assert!(
            failure.to_string().contains("not valid base64"),
            "{failure}"
        );
    }

    #[test]
    fn header_replaced_case_insensitively() {
        let input = serde_json::to_vec(&serde_json::json!({
            "httpMethod": "POST",
            "path": "/webhook",
            "headers": {
                "Host": "example.com",
                "STRIPE-SIGNATURE": "t=1,v1=old",
                "stripe-signature": "t=2,v1=older",
                "Content-Length": "3",
            },
            "multiValueHeaders": {
                "Stripe-signature": ["t=1,v1=old"],
                "content-length": ["3"],
            },
            "body": BODY,
        }))
        .unwrap();
        let event = output_json(&sign(&input, None).unwrap());

        let headers = event["headers"].as_object().unwrap();
        let names: Vec<&String> = headers.keys().collect();
        assert_eq!(
            names
                .iter()
                .filter(|name| name.eq_ignore_ascii_case("stripe-signature"))
                .count(),
            1,
            "{names:?}"
        );
        let header = headers["STRIPE-SIGNATURE"]
            .as_str()
            .expect("first name kept");
        assert!(verifies(header, BODY.as_bytes(), SECRET), "{header}");
        assert_eq!(headers["Content-Length"], BODY.len().to_string());

        let multi = event["multiValueHeaders"].as_object().unwrap();
        assert_eq!(multi["Stripe-signature"], serde_json::json!([header]));
        assert_eq!(
            multi["content-length"],
            serde_json::json!([BODY.len().to_string()])
        );
    }

    #[test]
    fn missing_header_is_added() {
        let input = v2_event(BODY, false, serde_json::json!({"host": "example.com"}));
        let event = output_json(&sign(&input, None).unwrap());
        let header = event["headers"]["stripe-signature"].as_str().unwrap();
        assert!(verifies(header, BODY.as_bytes(), SECRET), "{header}");
        assert!(
            event["headers"].get("content-length").is_none(),
            "content-length is only updated, never added: {event}"
        );
    }

    #[test]
    fn event_keeps_other_fields_and_order() {
        let input = "{\"version\":\"2.0\",\"zeta\":1.50,\"rawPath\":\"/webhook\",\
                     \"headers\":{\"x-b\":\"1\",\"stripe-signature\":\"old\",\"a\":\"\\u00e9\"},\
                     \"body\":\"{\\\"object\\\":\\\"event\\\"}\",\"cookies\":[\"a=1\"]}";
        let rendered = sign(input.as_bytes(), None).unwrap();
        let text = String::from_utf8(rendered.output).unwrap();

        let keys: Vec<usize> = [
            "\"version\"",
            "\"zeta\"",
            "\"rawPath\"",
            "\"headers\"",
            "\"body\"",
            "\"cookies\"",
        ]
        .iter()
        .map(|key| {
            text.find(key)
                .unwrap_or_else(|| panic!("{key} missing: {text}"))
        })
        .collect();
        assert!(keys.is_sorted(), "key order changed: {text}");
        assert!(text.contains("1.50"), "number text changed: {text}");
        assert!(
            text.contains("\"\\u00e9\""),
            "string escape changed: {text}"
        );
        assert!(text.contains("\"a=1\""), "cookies dropped: {text}");
        assert!(!text.contains("\"old\""), "header not replaced: {text}");
    }

    #[test]
    fn curl_command_posts_exact_body() {
        let body =
            "{\"object\":\"event\",\"note\":\"it's \\\"quoted\\\" $HOME `id` \\\\ \u{e9}\"}\n";
        let secrets = vec![SECRET.to_owned()];
        let request = SignRequest {
            secrets: &secrets,
            timestamp: NOW,
            format: Some(Format::Curl),
            url: "http://127.0.0.1:9/x y",
            body_path: None,
        };
        let input = classify(body.as_bytes().to_vec(), "test input").unwrap();
        let rendered = render(&input, &request).unwrap();
        let command = String::from_utf8(rendered.output).unwrap();
        assert!(command.contains("'http://127.0.0.1:9/x y'"), "{command}");
        assert!(
            command.contains("--header 'Stripe-Signature: t=1767225600,v1="),
            "{command}"
        );

        // Run the printf half of the pipeline and compare the bytes it writes.
        let (printf, _) = command.split_once(" |\n").expect("printf pipes into curl");
        let output = std::process::Command::new("sh")
            .args(["-c", printf])
            .output()
            .expect("sh runs");
        assert!(output.status.success(), "{output:?}");
        assert_eq!(String::from_utf8_lossy(&output.stdout), body);
    }

    #[test]
    fn curl_command_reads_body_file() {
        let secrets = vec![SECRET.to_owned()];
        let path = Path::new("/tmp/it's here/request.sh.body");
        let request = SignRequest {
            secrets: &secrets,
            timestamp: NOW,
            format: Some(Format::Curl),
            url: DEFAULT_URL,
            body_path: Some(path),
        };
        let input = classify(BODY.as_bytes().to_vec(), "test input").unwrap();
        let rendered = render(&input, &request).unwrap();
        let command = String::from_utf8(rendered.output).unwrap();
        assert!(
            command.ends_with("--data-binary @'/tmp/it'\\''s here/request.sh.body'\n"),
            "{command}"
        );
        assert_eq!(rendered.body_file.as_deref(), Some(BODY.as_bytes()));
    }

    #[test]
    fn unknown_shape_is_rejected() {
        let failure = sign(b"{\"hello\":\"world\"}", None).unwrap_err();
        assert_eq!(failure.exit_code(), 1);
        assert!(
            failure.to_string().contains("neither an API Gateway event"),
            "{failure}"
        );

        let failure = sign(b"[1,2]", None).unwrap_err();
        assert!(
            failure.to_string().contains("not a JSON object"),
            "{failure}"
        );

        let failure = sign(b"{\"object\":", None).unwrap_err();
        assert!(failure.to_string().contains("not valid JSON"), "{failure}");
    }

    #[test]
    fn secret_errors_hide_the_secret() {
        for text in [
            "sk_test_topsecretvalue",
            "topsecretvalue",
            "whsec_ok,topsecretvalue",
        ] {
            let failure = parse_secrets("--secret", text).unwrap_err();
            let message = failure.to_string();
            assert_eq!(failure.exit_code(), 2, "{message}");
            assert!(!message.contains("topsecretvalue"), "{text:?}: {message}");
        }
        let message = parse_secrets("--secret", "nope").unwrap_err().to_string();
        assert!(message.contains("whsec_"), "{message}");
    }

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn arguments_parse() {
        let command = parse_args(args(&[
            "--format=curl",
            "--timestamp",
            "1767225600",
            "-o",
            "out.sh",
            "--url",
            "http://127.0.0.1:9001/",
            "-",
        ]))
        .unwrap();
        assert_eq!(
            command,
            Command::Sign(Options {
                input: "-".to_owned(),
                secret: None,
                timestamp: Some(1_767_225_600),
                format: Some(Format::Curl),
                url: Some("http://127.0.0.1:9001/".to_owned()),
                output: Some(PathBuf::from("out.sh")),
            })
        );
        assert_eq!(parse_args(args(&["x", "--help"])).unwrap(), Command::Help);
    }

    #[test]
    fn bad_arguments_are_usage_errors() {
        let cases: &[&[&str]] = &[
            &[],
            &["--bogus", "f"],
            &["--format", "yaml", "f"],
            &["--timestamp", "-5", "f"],
            &["--timestamp", "1e9", "f"],
            &["--timestamp", "99999999999999", "f"],
            &["f", "g"],
            &["f", "--secret"],
            &["--help=yes"],
            &["--format", "curl", "--format", "body", "f"],
            &["--url", "127.0.0.1:9000", "f"],
        ];
        for case in cases {
            let failure = parse_args(args(case)).unwrap_err();
            assert_eq!(failure.exit_code(), 2, "{case:?}: {failure}");
        }
    }

    #[test]
    fn request_time_formats_dates() {
        assert_eq!(request_time(NOW).unwrap(), "01/Jan/2026:00:00:00 +0000");
        assert_eq!(
            request_time(1_709_210_096).unwrap(),
            "29/Feb/2024:12:34:56 +0000"
        );
        assert_eq!(
            request_time(MAX_TIMESTAMP).unwrap(),
            "31/Dec/9999:23:59:59 +0000"
        );
    }
}

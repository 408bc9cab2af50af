//! Times a Lambda binary under a local Lambda Runtime API emulator, with a
//! stub AWS endpoint that replies to PutEvents after a fixed added latency.
//! Both servers listen on 127.0.0.1 only, on ports the system picks.
//!
//! Modes (one JSON line on stdout each, progress on stderr):
//!
//! - `invoke`: starts the binary once and feeds it `--invocations` API
//!   Gateway HTTP API events carrying a signed body. Per invocation it
//!   measures the time from handing out the event on `/next` to reading the
//!   whole `/response`, minus the time the stub held the PutEvents request.
//!   It also counts the TCP connections the stub accepted, reports the
//!   child's mean CPU time per warm invocation, and samples its VmRSS from
//!   `/proc/PID/status`, plus VmHWM (the peak RSS that `/usr/bin/time -v`
//!   reports) at the end.
//! - `init`: starts the binary `--cold-starts` times and measures the time
//!   and the CPU time from `spawn` to its first `GET /next`, then serves one
//!   invocation and stops the process.
//!
//! The receiver is configured as the SAM template deploys it: the signing
//! secret is fetched from Secrets Manager (the stub replies to GetSecretValue),
//! a claim-check bucket is set, duplicate suppression is off and logs are
//! JSON at INFO. Its stdout and stderr go to /dev/null unless `--log FILE`.
//!
//! Example:
//! `cargo run --release --example runtime_bench -- invoke --binary target/release/stripe-eventbridge --body bench/data/charge-5k.json`

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use stripe_eventbridge::signature::signature_header;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

/// The benchmark secret shared with the peer scripts in `bench/`.
const SECRET: &str = "whsec_bench_0123456789abcdefghijklmnopqrstuv";
/// Secret ARN given to the receiver. The stub returns the secret for any id.
const SECRET_ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:stripe-bench-AbCdEf";
/// Time allowed for the function to start or to finish one invocation.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);
/// Deadline given to each invocation, as Lambda's function timeout would.
const INVOCATION_TIMEOUT: Duration = Duration::from_secs(10);

const USAGE: &str = "usage: runtime_bench invoke|init --binary PATH [options]

  --binary PATH        Lambda binary to start (required)
  --body FILE          webhook body to send (default: bench/data/charge-5k.json)
  --invocations N      invoke: number of invocations (default: 1000)
  --latency-ms MS      added latency of every stub reply, in milliseconds (default: 5)
  --rss-samples N      invoke: number of VmRSS samples spread over the run (default: 10)
  --cold-starts N      init: number of process starts (default: 20)
  --env NAME=VALUE     set one more variable for the function (repeatable)
  --log FILE           append the child's stdout and stderr to FILE instead of /dev/null";

/// Command-line settings.
#[derive(Debug, Clone)]
struct Options {
    mode: String,
    binary: PathBuf,
    body_file: PathBuf,
    invocations: usize,
    latency: Duration,
    rss_samples: usize,
    cold_starts: usize,
    extra_env: Vec<(String, String)>,
    log: Option<PathBuf>,
}

impl Options {
    fn parse(args: &[String]) -> Result<Self, String> {
        let mode = args.first().cloned().ok_or("missing mode")?;
        if mode != "invoke" && mode != "init" {
            return Err(format!("unknown mode {mode:?}; expected invoke or init"));
        }
        let mut options = Self {
            mode,
            binary: PathBuf::new(),
            body_file: Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/data/charge-5k.json"),
            invocations: 1000,
            latency: Duration::from_millis(5),
            rss_samples: 10,
            cold_starts: 20,
            extra_env: Vec::new(),
            log: None,
        };
        let mut rest = args[1..].iter();
        while let Some(flag) = rest.next() {
            let value = rest.next().ok_or_else(|| format!("{flag} needs a value"))?;
            let number = || {
                value
                    .parse::<usize>()
                    .map_err(|_| format!("{flag} must be a whole number, got {value:?}"))
            };
            match flag.as_str() {
                "--binary" => options.binary = PathBuf::from(value),
                "--body" => options.body_file = PathBuf::from(value),
                "--invocations" => options.invocations = number()?.max(1),
                "--latency-ms" => options.latency = Duration::from_millis(number()? as u64),
                "--rss-samples" => options.rss_samples = number()?.max(1),
                "--cold-starts" => options.cold_starts = number()?.max(1),
                "--env" => {
                    let (name, value) = value
                        .split_once('=')
                        .ok_or_else(|| format!("--env needs NAME=VALUE, got {value:?}"))?;
                    options.extra_env.push((name.to_owned(), value.to_owned()));
                }
                "--log" => options.log = Some(PathBuf::from(value)),
                _ => return Err(format!("unknown option {flag}")),
            }
        }
        if options.binary.as_os_str().is_empty() {
            return Err("--binary is required".to_owned());
        }
        Ok(options)
    }
}

// ---------------------------------------------------------------------------
// Minimal HTTP/1.1 over one TCP connection: keep-alive, Content-Length and
// chunked request bodies. Enough for hyper's client in the Lambda runtime
// and in the AWS SDK.

struct HttpRequest {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

struct Connection {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl Connection {
    fn new(stream: TcpStream) -> Self {
        let _ = stream.set_nodelay(true);
        Self {
            stream,
            buffer: Vec::with_capacity(64 * 1024),
        }
    }

    /// Reads more bytes into the buffer and returns false at the end of the stream.
    async fn fill(&mut self) -> io::Result<bool> {
        self.buffer.reserve(64 * 1024);
        Ok(self.stream.read_buf(&mut self.buffer).await? > 0)
    }

    /// Returns the buffer offset of `pattern`, reading until it appears.
    async fn find(&mut self, pattern: &[u8]) -> io::Result<Option<usize>> {
        loop {
            if let Some(at) = self
                .buffer
                .windows(pattern.len())
                .position(|w| w == pattern)
            {
                return Ok(Some(at));
            }
            if !self.fill().await? {
                return Ok(None);
            }
        }
    }

    async fn take(&mut self, len: usize) -> io::Result<Option<Vec<u8>>> {
        while self.buffer.len() < len {
            if !self.fill().await? {
                return Ok(None);
            }
        }
        Ok(Some(self.buffer.drain(..len).collect()))
    }

    /// Reads one request, or returns `None` when the peer closed the connection.
    async fn read_request(&mut self) -> io::Result<Option<HttpRequest>> {
        let Some(head_end) = self.find(b"\r\n\r\n").await? else {
            return Ok(None);
        };
        let head = String::from_utf8_lossy(&self.buffer[..head_end]).into_owned();
        self.buffer.drain(..head_end + 4);

        let mut lines = head.split("\r\n");
        let request_line = lines.next().unwrap_or_default();
        let mut parts = request_line.split(' ');
        let method = parts.next().unwrap_or_default().to_owned();
        let path = parts.next().unwrap_or_default().to_owned();
        let headers: HashMap<String, String> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
            .collect();

        let chunked = headers
            .get("transfer-encoding")
            .is_some_and(|value| value.eq_ignore_ascii_case("chunked"));
        let body = if chunked {
            match self.read_chunked().await? {
                Some(body) => body,
                None => return Ok(None),
            }
        } else {
            let len = headers
                .get("content-length")
                .and_then(|value| value.parse().ok())
                .unwrap_or(0);
            match self.take(len).await? {
                Some(body) => body,
                None => return Ok(None),
            }
        };
        Ok(Some(HttpRequest {
            method,
            path,
            headers,
            body,
        }))
    }

    async fn read_chunked(&mut self) -> io::Result<Option<Vec<u8>>> {
        let mut body = Vec::new();
        loop {
            let Some(line_end) = self.find(b"\r\n").await? else {
                return Ok(None);
            };
            let line = String::from_utf8_lossy(&self.buffer[..line_end]).into_owned();
            self.buffer.drain(..line_end + 2);
            let size_text = line.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size_text, 16).map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("bad chunk size {line:?}"),
                )
            })?;
            if size == 0 {
                // Skip trailers up to the empty line that ends the body.
                loop {
                    let Some(end) = self.find(b"\r\n").await? else {
                        return Ok(None);
                    };
                    self.buffer.drain(..end + 2);
                    if end == 0 {
                        return Ok(Some(body));
                    }
                }
            }
            let Some(chunk) = self.take(size + 2).await? else {
                return Ok(None);
            };
            body.extend_from_slice(&chunk[..size]);
        }
    }

    async fn respond(
        &mut self,
        status: u16,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> io::Result<()> {
        let mut head = format!("HTTP/1.1 {status} X\r\ncontent-length: {}\r\n", body.len());
        for (name, value) in headers {
            head.push_str(name);
            head.push_str(": ");
            head.push_str(value);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        let mut message = head.into_bytes();
        message.extend_from_slice(body);
        self.stream.write_all(&message).await
    }
}

// ---------------------------------------------------------------------------
// Stub AWS endpoint: PutEvents and GetSecretValue.

#[derive(Default)]
struct StubLog {
    connections: usize,
    put_events: usize,
    /// Time from reading each PutEvents request to writing its reply.
    hold_times: Vec<Duration>,
    /// Whether the first PutEvents carried the body unchanged as `Detail`.
    first_detail_matches: Option<bool>,
    unknown_targets: Vec<String>,
}

#[derive(Clone)]
struct Stub {
    address: SocketAddr,
    log: Arc<Mutex<StubLog>>,
}

impl Stub {
    async fn start(latency: Duration, expected_detail: Arc<String>) -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let stub = Self {
            address: listener.local_addr()?,
            log: Arc::default(),
        };
        let server = stub.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                server.log.lock().unwrap().connections += 1;
                let connection = server.clone();
                let expected = Arc::clone(&expected_detail);
                tokio::spawn(async move {
                    let _ = connection
                        .serve(Connection::new(stream), latency, &expected)
                        .await;
                });
            }
        });
        Ok(stub)
    }

    async fn serve(
        &self,
        mut connection: Connection,
        latency: Duration,
        expected_detail: &str,
    ) -> io::Result<()> {
        while let Some(request) = connection.read_request().await? {
            let received = Instant::now();
            let target = request
                .headers
                .get("x-amz-target")
                .cloned()
                .unwrap_or_default();
            let json_type = ("content-type", "application/x-amz-json-1.1".to_owned());
            let request_id = ("x-amzn-requestid", "stub".to_owned());
            match target.as_str() {
                "AWSEvents.PutEvents" => {
                    let index = {
                        let mut log = self.log.lock().unwrap();
                        log.put_events += 1;
                        if log.first_detail_matches.is_none() {
                            let detail = serde_json::from_slice::<Value>(&request.body)
                                .ok()
                                .and_then(|v| {
                                    v["Entries"][0]["Detail"].as_str().map(str::to_owned)
                                });
                            log.first_detail_matches =
                                Some(detail.as_deref() == Some(expected_detail));
                        }
                        log.put_events
                    };
                    tokio::time::sleep(latency).await;
                    let body = json!({"FailedEntryCount": 0, "Entries": [{"EventId": format!("stub-{index}")}]});
                    connection
                        .respond(200, &[json_type, request_id], body.to_string().as_bytes())
                        .await?;
                    self.log.lock().unwrap().hold_times.push(received.elapsed());
                }
                "secretsmanager.GetSecretValue" => {
                    let body = json!({
                        "ARN": SECRET_ARN,
                        "Name": "stripe-bench",
                        "VersionId": "00000000-0000-0000-0000-000000000001",
                        "SecretString": SECRET,
                        "VersionStages": ["AWSCURRENT"],
                    });
                    connection
                        .respond(200, &[json_type, request_id], body.to_string().as_bytes())
                        .await?;
                }
                _ => {
                    self.log.lock().unwrap().unknown_targets.push(format!(
                        "{} {} x-amz-target={target:?}",
                        request.method, request.path
                    ));
                    let body = json!({"__type": "UnknownOperationException", "message": "stub"});
                    connection
                        .respond(400, &[json_type, request_id], body.to_string().as_bytes())
                        .await?;
                }
            }
        }
        Ok(())
    }

    fn url(&self) -> String {
        format!("http://{}", self.address)
    }
}

// ---------------------------------------------------------------------------
// Lambda Runtime API emulator.

/// One event handed out on `/next`.
struct Invocation {
    request_id: String,
    event: String,
}

enum RuntimeMessage {
    /// The runtime asked for the next event.
    NextRequested {
        at: Instant,
        reply: oneshot::Sender<Invocation>,
    },
    /// The runtime posted a result; `error` is true for `/error`.
    Finished {
        request_id: String,
        at: Instant,
        error: bool,
        body: Vec<u8>,
    },
    /// The runtime reported an init error.
    InitError { body: Vec<u8> },
}

struct RuntimeApi {
    address: SocketAddr,
    messages: mpsc::UnboundedReceiver<RuntimeMessage>,
}

impl RuntimeApi {
    async fn start() -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let (sender, messages) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let sender = sender.clone();
                tokio::spawn(async move {
                    let _ = serve_runtime(Connection::new(stream), sender).await;
                });
            }
        });
        Ok(Self { address, messages })
    }

    async fn next_message(&mut self, child: &mut Child) -> Result<RuntimeMessage, String> {
        match tokio::time::timeout(STEP_TIMEOUT, self.messages.recv()).await {
            Ok(Some(message)) => Ok(message),
            Ok(None) => Err("the Runtime API server stopped".to_owned()),
            Err(_) => Err(match child.try_wait() {
                Ok(Some(status)) => format!("the function exited with {status}"),
                _ => format!("no request from the function within {STEP_TIMEOUT:?}"),
            }),
        }
    }
}

async fn serve_runtime(
    mut connection: Connection,
    sender: mpsc::UnboundedSender<RuntimeMessage>,
) -> io::Result<()> {
    while let Some(request) = connection.read_request().await? {
        let at = Instant::now();
        let path = request.path.as_str();
        if request.method == "GET" && path == "/2018-06-01/runtime/invocation/next" {
            let (reply, invocation) = oneshot::channel();
            if sender
                .send(RuntimeMessage::NextRequested { at, reply })
                .is_err()
            {
                return Ok(());
            }
            // Dropped without an event when the run is over: keep the long
            // poll open until the process is stopped.
            let Ok(invocation) = invocation.await else {
                std::future::pending::<()>().await;
                return Ok(());
            };
            let deadline_ms = (SystemTime::now() + INVOCATION_TIMEOUT)
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis();
            let headers = [
                ("content-type", "application/json".to_owned()),
                (
                    "lambda-runtime-aws-request-id",
                    invocation.request_id.clone(),
                ),
                ("lambda-runtime-deadline-ms", deadline_ms.to_string()),
                (
                    "lambda-runtime-invoked-function-arn",
                    "arn:aws:lambda:us-east-1:123456789012:function:stripe-bench".to_owned(),
                ),
                (
                    "lambda-runtime-trace-id",
                    "Root=1-67800000-0123456789abcdef01234567;Parent=0123456789abcdef;Sampled=0"
                        .to_owned(),
                ),
            ];
            connection
                .respond(200, &headers, invocation.event.as_bytes())
                .await?;
        } else if request.method == "POST" && path == "/2018-06-01/runtime/init/error" {
            let _ = sender.send(RuntimeMessage::InitError { body: request.body });
            connection.respond(202, &[], b"{}").await?;
        } else if let Some(rest) = path.strip_prefix("/2018-06-01/runtime/invocation/")
            && request.method == "POST"
            && let Some((request_id, kind)) = rest.split_once('/')
        {
            let message = RuntimeMessage::Finished {
                request_id: request_id.to_owned(),
                at,
                error: kind == "error",
                body: request.body,
            };
            let _ = sender.send(message);
            connection.respond(202, &[], b"{}").await?;
        } else {
            connection.respond(404, &[], b"{}").await?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The function under test.

/// Builds an API Gateway HTTP API (payload 2.0) event that carries `body`,
/// signed with the current time.
fn webhook_event(body: &str, request_number: usize) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let signature = signature_header(&[SECRET], now.as_secs(), body.as_bytes());
    json!({
        "version": "2.0",
        "routeKey": "POST /webhook",
        "rawPath": "/webhook",
        "rawQueryString": "",
        "headers": {
            "accept": "*/*; q=0.5, application/xml",
            "cache-control": "no-cache",
            "content-length": body.len().to_string(),
            "content-type": "application/json; charset=utf-8",
            "host": "abcdef1234.execute-api.us-east-1.amazonaws.com",
            "stripe-signature": signature,
            "user-agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            "x-amzn-trace-id": format!("Root=1-67800000-{request_number:024x}"),
            "x-forwarded-for": "3.18.12.63",
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https"
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abcdef1234",
            "domainName": "abcdef1234.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abcdef1234",
            "http": {
                "method": "POST",
                "path": "/webhook",
                "protocol": "HTTP/1.1",
                "sourceIp": "3.18.12.63",
                "userAgent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)"
            },
            "requestId": format!("req-{request_number}"),
            "routeKey": "POST /webhook",
            "stage": "$default",
            "time": "31/Dec/2025:23:59:50 +0000",
            "timeEpoch": now.as_millis() as u64
        },
        "body": body,
        "isBase64Encoded": false
    })
    .to_string()
}

/// Starts the binary with a Lambda-like environment and no other variables.
fn spawn_function(options: &Options, runtime: SocketAddr, stub: &Stub) -> io::Result<Child> {
    let output = || -> io::Result<Stdio> {
        Ok(match &options.log {
            Some(path) => std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?
                .into(),
            None => Stdio::null(),
        })
    };
    Command::new(&options.binary)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", runtime.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "stripe-bench")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/stripe-bench")
        .env(
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2026/01/01/[$LATEST]0123456789abcdef",
        )
        .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .env("AWS_LAMBDA_LOG_LEVEL", "INFO")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_SESSION_TOKEN", "testing")
        .env("AWS_ENDPOINT_URL", stub.url())
        // Credentials come from the variables above, as in Lambda. This
        // setting also rules out any instance metadata lookup.
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("STRIPE_WEBHOOK_SECRET_ARN", SECRET_ARN)
        .env("EVENT_BUS_NAME", "stripe-bench")
        .env("EVENT_SOURCE", "stripe.com")
        .env("STRIPE_SIGNATURE_TOLERANCE_SECS", "300")
        .env("EVENTBRIDGE_MAX_ENTRY_BYTES", "262144")
        .env("MAX_BODY_BYTES", "4194304")
        .env("FORWARD_TIMEOUT_MS", "5000")
        .env("CLAIM_CHECK_BUCKET", "stripe-bench-claim-check")
        .envs(options.extra_env.iter().map(|(name, value)| (name, value)))
        .stdin(Stdio::null())
        .stdout(output()?)
        .stderr(output()?)
        .spawn()
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Reads `VmRSS` and `VmHWM` of a process, in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Returns the CPU time all threads of a process have used so far, from
/// `/proc/PID/task/*/schedstat`. Unlike wall time it does not grow while
/// other processes hold the CPU, so it stays comparable on a loaded machine.
fn cpu_time(pid: u32) -> Duration {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Duration::ZERO;
    };
    let nanos: u64 = tasks
        .filter_map(Result::ok)
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|text| text.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(nanos)
}

/// The result of one invocation as the emulator saw it.
struct Timing {
    round_trip: Duration,
    stub_hold: Duration,
    status_ok: bool,
}

/// Waits for the runtime's next `GET /next`.
async fn wait_for_next(
    runtime: &mut RuntimeApi,
    child: &mut Child,
) -> Result<(Instant, oneshot::Sender<Invocation>), String> {
    match runtime.next_message(child).await? {
        RuntimeMessage::NextRequested { at, reply } => Ok((at, reply)),
        RuntimeMessage::InitError { body } => {
            Err(format!("init error: {}", String::from_utf8_lossy(&body)))
        }
        RuntimeMessage::Finished { request_id, .. } => {
            Err(format!("unexpected result for {request_id} before /next"))
        }
    }
}

/// Hands out one event on a pending `/next` and waits for its result.
async fn invoke(
    runtime: &mut RuntimeApi,
    child: &mut Child,
    stub: &Stub,
    body: &str,
    number: usize,
    reply: oneshot::Sender<Invocation>,
) -> Result<Timing, String> {
    let request_id = format!("00000000-0000-4000-8000-{number:012}");
    let event = webhook_event(body, number);
    stub.log.lock().unwrap().hold_times.clear();
    let sent = Instant::now();
    reply
        .send(Invocation {
            request_id: request_id.clone(),
            event,
        })
        .map_err(|_| "the runtime closed /next before the event was sent".to_owned())?;

    match runtime.next_message(child).await? {
        RuntimeMessage::Finished {
            request_id: finished,
            at,
            error,
            body,
        } => {
            if finished != request_id {
                return Err(format!("result for {finished}, expected {request_id}"));
            }
            let stub_hold = stub.log.lock().unwrap().hold_times.iter().sum();
            let status_ok = !error
                && serde_json::from_slice::<Value>(&body)
                    .is_ok_and(|response| response["statusCode"] == 200);
            if !status_ok && number <= 3 {
                eprintln!(
                    "invocation {number} failed: {}",
                    String::from_utf8_lossy(&body)
                );
            }
            Ok(Timing {
                round_trip: at - sent,
                stub_hold,
                status_ok,
            })
        }
        RuntimeMessage::InitError { body } => {
            Err(format!("init error: {}", String::from_utf8_lossy(&body)))
        }
        RuntimeMessage::NextRequested { .. } => {
            Err("a second /next arrived before the result".to_owned())
        }
    }
}

/// Returns the nearest-rank percentile of ascending values.
fn percentile(sorted: &[f64], fraction: f64) -> f64 {
    let rank = ((fraction * sorted.len() as f64).ceil() as usize).max(1);
    sorted[rank - 1]
}

fn summary(mut values: Vec<f64>) -> Value {
    values.sort_by(f64::total_cmp);
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let round = |v: f64| (v * 10.0).round() / 10.0;
    json!({
        "p50": round(percentile(&values, 0.50)),
        "p99": round(percentile(&values, 0.99)),
        "mean": round(mean),
        "min": round(values[0]),
        "max": round(values[values.len() - 1]),
    })
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Starts the stub AWS endpoint and the Runtime API emulator for one function.
async fn start_servers(
    options: &Options,
    body: &Arc<String>,
) -> Result<(Stub, RuntimeApi), String> {
    let stub = Stub::start(options.latency, Arc::clone(body))
        .await
        .map_err(|e| format!("stub failed to start: {e}"))?;
    let runtime = RuntimeApi::start()
        .await
        .map_err(|e| format!("Runtime API failed to start: {e}"))?;
    Ok((stub, runtime))
}

async fn run_invoke(options: &Options, body: Arc<String>) -> Result<Value, String> {
    let (stub, mut runtime) = start_servers(options, &body).await?;
    let mut child = spawn_function(options, runtime.address, &stub)
        .map_err(|e| format!("cannot start {}: {e}", options.binary.display()))?;
    let pid = child.id();

    let sample_every = (options.invocations / options.rss_samples).max(1);
    let mut overheads = Vec::with_capacity(options.invocations);
    let mut round_trips = Vec::with_capacity(options.invocations);
    let mut hold_times = Vec::with_capacity(options.invocations);
    let mut failures = 0usize;
    let mut rss_samples = Vec::new();
    let mut init_connections = None;
    let mut cpu_after_first = Duration::ZERO;
    let mut result = Ok(());
    for number in 1..=options.invocations {
        let outcome = match wait_for_next(&mut runtime, &mut child).await {
            Ok((_, reply)) => {
                if number == 1 {
                    // Connections opened at init, such as for GetSecretValue.
                    init_connections = Some(stub.log.lock().unwrap().connections);
                }
                invoke(&mut runtime, &mut child, &stub, &body, number, reply).await
            }
            Err(error) => Err(error),
        };
        match outcome {
            Ok(timing) => {
                failures += usize::from(!timing.status_ok);
                round_trips.push(micros(timing.round_trip));
                hold_times.push(micros(timing.stub_hold));
                overheads.push(micros(timing.round_trip.saturating_sub(timing.stub_hold)));
            }
            Err(error) => {
                result = Err(format!("invocation {number}: {error}"));
                break;
            }
        }
        if number == 1 {
            cpu_after_first = cpu_time(pid);
        }
        if number == 1 || number % sample_every == 0 || number == options.invocations {
            rss_samples.push(json!([number, memory_kib(pid).0]));
        }
    }
    // Mean CPU time of the warm invocations: every one after the first.
    let warm_invocations = options.invocations.saturating_sub(1).max(1) as u32;
    let cpu_per_warm_invocation = cpu_time(pid).saturating_sub(cpu_after_first) / warm_invocations;
    let (_, vm_hwm_kib) = memory_kib(pid);
    stop(child);
    result?;

    let log = stub.log.lock().unwrap();
    if !log.unknown_targets.is_empty() {
        eprintln!(
            "stub received requests for unknown operations: {:?}",
            log.unknown_targets
        );
    }
    let init_connections = init_connections.unwrap_or(0);
    Ok(json!({
        "mode": "invoke",
        "binary": file_name(&options.binary),
        "body_file": file_name(&options.body_file),
        "body_bytes": body.len(),
        "invocations": options.invocations,
        "failed": failures,
        "stub_latency_ms": options.latency.as_millis() as u64,
        "overhead_us": summary(overheads),
        "cpu_us_per_warm_invocation": (micros(cpu_per_warm_invocation) * 10.0).round() / 10.0,
        "round_trip_us": summary(round_trips),
        "stub_hold_us": summary(hold_times),
        "put_events": log.put_events,
        "detail_is_body": log.first_detail_matches,
        "stub_connections": {
            "init": init_connections,
            "invocations": log.connections - init_connections,
            "total": log.connections,
        },
        "rss_kib": rss_samples,
        "vm_hwm_kib": vm_hwm_kib,
    }))
}

async fn run_init(options: &Options, body: Arc<String>) -> Result<Value, String> {
    let mut ready_ms = Vec::with_capacity(options.cold_starts);
    let mut init_cpu_ms = Vec::with_capacity(options.cold_starts);
    let mut first_invocation_ms = Vec::with_capacity(options.cold_starts);
    let mut rss_after_first = Vec::with_capacity(options.cold_starts);
    for start in 1..=options.cold_starts {
        let (stub, mut runtime) = start_servers(options, &body).await?;
        let spawned = Instant::now();
        let mut child = spawn_function(options, runtime.address, &stub)
            .map_err(|e| format!("cannot start {}: {e}", options.binary.display()))?;

        let (ready_at, reply) = match wait_for_next(&mut runtime, &mut child).await {
            Ok(first) => first,
            Err(error) => {
                stop(child);
                return Err(format!("cold start {start}: {error}"));
            }
        };
        ready_ms.push((ready_at - spawned).as_secs_f64() * 1e3);
        init_cpu_ms.push(cpu_time(child.id()).as_secs_f64() * 1e3);

        let outcome = invoke(&mut runtime, &mut child, &stub, &body, 1, reply).await;
        rss_after_first.push(memory_kib(child.id()).0 as f64);
        stop(child);
        let timing = outcome.map_err(|error| format!("cold start {start}: {error}"))?;
        if !timing.status_ok {
            return Err(format!("cold start {start}: the first invocation failed"));
        }
        first_invocation_ms.push(
            timing
                .round_trip
                .saturating_sub(timing.stub_hold)
                .as_secs_f64()
                * 1e3,
        );
    }
    let round_ms = |value: Value| {
        let mut value = value;
        if let Some(map) = value.as_object_mut() {
            for number in map.values_mut() {
                let v = number.as_f64().unwrap_or_default();
                *number = json!((v * 1000.0).round() / 1000.0);
            }
        }
        value
    };
    Ok(json!({
        "mode": "init",
        "binary": file_name(&options.binary),
        "cold_starts": options.cold_starts,
        "ready_ms": round_ms(summary(ready_ms)),
        "init_cpu_ms": round_ms(summary(init_cpu_ms)),
        "first_invocation_overhead_ms": round_ms(summary(first_invocation_ms)),
        "rss_after_first_kib": summary(rss_after_first),
    }))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|arg| arg == "-h" || arg == "--help") {
        println!("{USAGE}");
        return;
    }
    let options = match Options::parse(&args) {
        Ok(options) => options,
        Err(error) => {
            eprintln!("runtime_bench: {error}\n\n{USAGE}");
            std::process::exit(2);
        }
    };
    let body = match std::fs::read_to_string(&options.body_file) {
        Ok(body) => Arc::new(body),
        Err(error) => {
            eprintln!(
                "runtime_bench: cannot read {}: {error}",
                options.body_file.display()
            );
            std::process::exit(2);
        }
    };
    let result = if options.mode == "invoke" {
        run_invoke(&options, body).await
    } else {
        run_init(&options, body).await
    };
    match result {
        Ok(report) => println!("{report}"),
        Err(error) => {
            eprintln!("runtime_bench: {error}");
            std::process::exit(1);
        }
    }
}

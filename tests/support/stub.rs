//! A scripted stand-in for the EventBridge API on 127.0.0.1.
//!
//! moto accepts every PutEvents entry, so faults are tested against this
//! stub instead. Each request takes the next [`Reply`] from a script (the
//! last one repeats), or with a [`FaultPlan`] a reply drawn at random. The
//! stub records the request bodies, the replies and the TCP connections it
//! accepted. It speaks just enough HTTP/1.1 for the AWS SDK: keep-alive,
//! `Content-Length` bodies, JSON replies.

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the stub does with one PutEvents request.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// HTTP 200 with every entry accepted.
    Accept,
    /// HTTP 200 after a pause.
    AcceptAfter(Duration),
    /// HTTP 200 with the entry failed with this `ErrorCode`.
    FailEntry(&'static str),
    /// An HTTP error status with an AWS JSON error of this type.
    Error(u16, &'static str),
    /// Close the connection without answering.
    Reset,
    /// Never answer, keeping the connection open.
    Hang,
    /// Accept the entry, then close the connection without a reply, so the
    /// entry is on the bus but the caller sees a failure.
    AcceptThenReset,
    /// Accept the entry, then never reply.
    AcceptThenHang,
}

impl Reply {
    /// Returns whether the stub puts the entry on its bus for this reply.
    pub fn accepts(&self) -> bool {
        matches!(
            self,
            Self::Accept | Self::AcceptAfter(_) | Self::AcceptThenReset | Self::AcceptThenHang
        )
    }
}

/// Random faults: each request independently gets a fault with probability
/// `fault_rate`, picked from `faults` in proportion to the weights, and is
/// accepted otherwise.
///
/// The draw for a request depends only on `seed`, the entry's `Detail` and
/// how many requests with that `Detail` came before, so each event meets the
/// same sequence of replies in every run, whatever the order of arrival.
#[derive(Debug, Clone)]
pub struct FaultPlan {
    /// Seed of every draw.
    pub seed: u64,
    /// Probability that one request gets a fault, from 0 to 1.
    pub fault_rate: f64,
    /// Fault replies with their relative weights.
    pub faults: Vec<(Reply, u32)>,
}

impl FaultPlan {
    /// Draws the reply for a request whose `Detail` hashes to `detail_hash`
    /// and that follows `previous_requests` requests with the same `Detail`.
    fn draw(&self, detail_hash: u64, previous_requests: u64) -> Reply {
        let mut rng =
            fastrand::Rng::with_seed(mix(self.seed ^ mix(detail_hash ^ mix(previous_requests))));
        if rng.f64() >= self.fault_rate {
            return Reply::Accept;
        }
        let total: u64 = self
            .faults
            .iter()
            .map(|(_, weight)| u64::from(*weight))
            .sum();
        let mut pick = rng.u64(0..total.max(1));
        for (reply, weight) in &self.faults {
            if pick < u64::from(*weight) {
                return reply.clone();
            }
            pick -= u64::from(*weight);
        }
        Reply::Accept
    }
}

/// 64-bit FNV-1a hash: stable across runs and platforms, unlike `DefaultHasher`.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Mixes the bits of `value` with the splitmix64 finaliser, so that nearby
/// inputs give unrelated seeds.
fn mix(value: u64) -> u64 {
    let mut z = value.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One PutEvents request and what the stub did with it.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// The JSON body of the request.
    pub request: serde_json::Value,
    /// The reply the stub chose.
    pub reply: Reply,
    /// The `EventId` given to the entry, when the stub accepted it.
    pub eventbridge_event_id: Option<String>,
}

impl Exchange {
    /// Returns the `Detail` of the request's first entry.
    pub fn detail(&self) -> &str {
        self.request["Entries"][0]["Detail"]
            .as_str()
            .unwrap_or_default()
    }
}

#[derive(Default)]
struct State {
    script: VecDeque<Reply>,
    last: Option<Reply>,
    faults: Option<FaultPlan>,
    requests_per_detail: HashMap<u64, u64>,
    requests: Vec<serde_json::Value>,
    replies: Vec<Reply>,
    accepted_ids: Vec<String>,
}

/// A running stub; it stops when the test's runtime ends.
#[derive(Clone)]
pub struct StubEventBridge {
    address: SocketAddr,
    state: Arc<Mutex<State>>,
    connections: Arc<AtomicUsize>,
}

impl StubEventBridge {
    /// Starts a stub on a free port of 127.0.0.1 with a script of replies.
    pub async fn start(script: Vec<Reply>) -> Self {
        Self::start_with_state(State {
            script: script.into(),
            ..State::default()
        })
        .await
    }

    /// Starts a stub on a free port of 127.0.0.1 that draws every reply
    /// from `plan`.
    pub async fn start_with_faults(plan: FaultPlan) -> Self {
        Self::start_with_state(State {
            faults: Some(plan),
            ..State::default()
        })
        .await
    }

    async fn start_with_state(state: State) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let address = listener.local_addr().expect("local address");
        let state = Arc::new(Mutex::new(state));
        let connections = Arc::new(AtomicUsize::new(0));
        let stub = Self {
            address,
            state,
            connections,
        };
        let server = stub.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                server.connections.fetch_add(1, Ordering::SeqCst);
                let connection = server.clone();
                tokio::spawn(async move { connection.serve(stream).await });
            }
        });
        stub
    }

    /// Returns the endpoint URL to give the SDK.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Returns the number of PutEvents requests received.
    pub fn request_count(&self) -> usize {
        self.state.lock().unwrap().requests.len()
    }

    /// Returns the JSON bodies of every request received.
    pub fn requests(&self) -> Vec<serde_json::Value> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Returns the `Detail` of every entry that the stub accepted.
    pub fn accepted_details(&self) -> Vec<String> {
        let state = self.state.lock().unwrap();
        state
            .requests
            .iter()
            .zip(state.accepted_ids.iter())
            .filter(|(_, id)| !id.is_empty())
            .map(|(request, _)| {
                request["Entries"][0]["Detail"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect()
    }

    /// Returns every request received, in order, with the reply it got.
    pub fn exchanges(&self) -> Vec<Exchange> {
        let state = self.state.lock().unwrap();
        state
            .requests
            .iter()
            .zip(&state.replies)
            .zip(&state.accepted_ids)
            .map(|((request, reply), id)| Exchange {
                request: request.clone(),
                reply: reply.clone(),
                eventbridge_event_id: (!id.is_empty()).then(|| id.clone()),
            })
            .collect()
    }

    /// Returns the number of TCP connections accepted.
    pub fn connection_count(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    fn next_reply(&self, request: serde_json::Value) -> (Reply, usize) {
        let mut state = self.state.lock().unwrap();
        let reply = if let Some(plan) = state.faults.clone() {
            let detail = request["Entries"][0]["Detail"].as_str().unwrap_or_default();
            let detail_hash = fnv1a(detail.as_bytes());
            let count = state.requests_per_detail.entry(detail_hash).or_default();
            let reply = plan.draw(detail_hash, *count);
            *count += 1;
            reply
        } else {
            match state.script.pop_front() {
                Some(reply) => {
                    state.last = Some(reply.clone());
                    reply
                }
                None => state.last.clone().unwrap_or(Reply::Accept),
            }
        };
        state.requests.push(request);
        state.replies.push(reply.clone());
        let index = state.requests.len();
        let accepted = reply.accepts();
        state.accepted_ids.push(if accepted {
            format!("stub-{index}")
        } else {
            String::new()
        });
        (reply, index)
    }

    async fn serve(&self, mut stream: TcpStream) {
        let mut buffer = Vec::new();
        loop {
            let Some((head_len, body_len)) = read_head(&mut stream, &mut buffer).await else {
                return;
            };
            while buffer.len() < head_len + body_len {
                let mut chunk = [0u8; 16384];
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                }
            }
            let body: Vec<u8> = buffer.drain(..head_len + body_len).skip(head_len).collect();
            let request = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
            let (reply, index) = self.next_reply(request);
            let response = match reply {
                Reply::Accept => accepted(index),
                Reply::AcceptAfter(pause) => {
                    tokio::time::sleep(pause).await;
                    accepted(index)
                }
                Reply::FailEntry(code) => http_response(
                    200,
                    &serde_json::json!({
                        "FailedEntryCount": 1,
                        "Entries": [{"ErrorCode": code, "ErrorMessage": format!("stub {code}")}],
                    })
                    .to_string(),
                ),
                Reply::Error(status, kind) => http_response(
                    status,
                    &serde_json::json!({"__type": kind, "message": format!("stub {kind}")})
                        .to_string(),
                ),
                Reply::Reset | Reply::AcceptThenReset => {
                    // A zero linger makes the close a TCP reset, as a failed peer does.
                    #[allow(deprecated)]
                    let _ = stream.set_linger(Some(Duration::ZERO));
                    return;
                }
                Reply::Hang | Reply::AcceptThenHang => {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    return;
                }
            };
            if stream.write_all(response.as_bytes()).await.is_err() {
                return;
            }
        }
    }
}

fn accepted(index: usize) -> String {
    http_response(
        200,
        &serde_json::json!({"FailedEntryCount": 0, "Entries": [{"EventId": format!("stub-{index}")}]})
            .to_string(),
    )
}

fn http_response(status: u16, body: &str) -> String {
    format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: {}\r\nx-amzn-requestid: stub\r\n\r\n{body}",
        body.len()
    )
}

/// Reads until the end of the request head; returns its length and the
/// body length from `Content-Length`.
async fn read_head(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<(usize, usize)> {
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
            let body_len = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .and_then(|value| value.trim().parse().ok())
                .unwrap_or(0);
            return Some((end + 4, body_len));
        }
        let mut chunk = [0u8; 16384];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    }
}

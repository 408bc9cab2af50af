//! A scripted stand-in for the EventBridge API on 127.0.0.1.
//!
//! moto accepts every PutEvents entry, so faults are tested against this
//! stub instead: each request takes the next [`Reply`] from a script (the
//! last one repeats), and the stub records the request bodies and counts the
//! TCP connections it accepted. It speaks just enough HTTP/1.1 for the AWS
//! SDK: keep-alive, `Content-Length` bodies, JSON replies.

#![allow(dead_code)]

use std::collections::VecDeque;
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
}

#[derive(Default)]
struct State {
    script: VecDeque<Reply>,
    last: Option<Reply>,
    requests: Vec<serde_json::Value>,
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
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let address = listener.local_addr().expect("local address");
        let state = Arc::new(Mutex::new(State {
            script: script.into(),
            ..State::default()
        }));
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

    /// Returns the number of TCP connections accepted.
    pub fn connection_count(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    fn next_reply(&self, request: serde_json::Value) -> (Reply, usize) {
        let mut state = self.state.lock().unwrap();
        let reply = match state.script.pop_front() {
            Some(reply) => {
                state.last = Some(reply.clone());
                reply
            }
            None => state.last.clone().unwrap_or(Reply::Accept),
        };
        state.requests.push(request);
        let index = state.requests.len();
        let accepted = matches!(reply, Reply::Accept | Reply::AcceptAfter(_));
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
                Reply::Reset => {
                    // A zero linger makes the close a TCP reset, as a failed peer does.
                    #[allow(deprecated)]
                    let _ = stream.set_linger(Some(Duration::ZERO));
                    return;
                }
                Reply::Hang => {
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

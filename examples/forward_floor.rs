//! The minimum work a forwarding function does per invocation: the baseline
//! for the warm-invocation figure in BENCHMARKS.md.
//!
//! It reads each event with the receiver's own reader, writes one PutEvents
//! request with the body as `Detail` over a kept-alive plain TCP connection
//! to `AWS_ENDPOINT_URL`, reads the reply, and returns a fixed response. It
//! does no signature check, no SigV4 signing, no TLS and no retry, so the
//! time it takes is the Lambda runtime plus one HTTP exchange, a floor under
//! any function that forwards events.
//!
//! Build it with the receiver's profile: `cargo build --release --example forward_floor`.

use std::io;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::json;
use stripe_eventbridge::request::WebhookRequest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

/// One kept-alive HTTP/1.1 connection to the stub endpoint.
struct Endpoint {
    address: String,
    stream: Option<TcpStream>,
    buffer: Vec<u8>,
}

impl Endpoint {
    /// Sends one PutEvents request and returns the reply body.
    async fn put_events(&mut self, body: &[u8]) -> io::Result<Vec<u8>> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(&self.address).await?;
            // As hyper does: no wait for the ACK of the head before the body.
            stream.set_nodelay(true)?;
            self.stream = Some(stream);
        }
        let stream = self.stream.as_mut().expect("connected above");
        let head = format!(
            "POST / HTTP/1.1\r\nhost: {}\r\ncontent-type: application/x-amz-json-1.1\r\n\
             x-amz-target: AWSEvents.PutEvents\r\ncontent-length: {}\r\n\r\n",
            self.address,
            body.len()
        );
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body).await?;

        self.buffer.clear();
        let head_end = loop {
            if let Some(end) = self.buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            read_more(stream, &mut self.buffer).await?;
        };
        let head = String::from_utf8_lossy(&self.buffer[..head_end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or(0);
        while self.buffer.len() < head_end + length {
            read_more(stream, &mut self.buffer).await?;
        }
        Ok(self.buffer[head_end..head_end + length].to_vec())
    }
}

async fn read_more(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> io::Result<()> {
    let mut chunk = [0u8; 16384];
    match stream.read(&mut chunk).await? {
        0 => Err(io::ErrorKind::UnexpectedEof.into()),
        read => {
            buffer.extend_from_slice(&chunk[..read]);
            Ok(())
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let url = std::env::var("AWS_ENDPOINT_URL").map_err(|_| "AWS_ENDPOINT_URL is not set")?;
    let address = url
        .strip_prefix("http://")
        .ok_or("AWS_ENDPOINT_URL must start with http://")?
        .trim_end_matches('/')
        .to_owned();
    let endpoint = Mutex::new(Endpoint {
        address,
        stream: None,
        buffer: Vec::new(),
    });
    let endpoint = &endpoint;

    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<WebhookRequest>| async move {
            let body = event.payload.body().unwrap_or_default();
            let request = json!({
                "Entries": [{
                    "EventBusName": "stripe",
                    "Source": "stripe.com",
                    "DetailType": "charge.succeeded",
                    "Detail": body,
                }]
            });
            let reply = endpoint
                .lock()
                .await
                .put_events(&serde_json::to_vec(&request)?)
                .await?;
            Ok::<_, Error>(json!({
                "statusCode": 200,
                "headers": {"content-type": "application/json"},
                "cookies": [],
                "body": String::from_utf8_lossy(&reply),
                "isBase64Encoded": false,
            }))
        },
    ))
    .await
}

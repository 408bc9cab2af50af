//! A hello-world lambda_http function: the baseline for the init-time and
//! binary-size figures in BENCHMARKS.md. It installs lambda_http's default
//! tracing subscriber, which the receiver's `logging::init` mirrors, and
//! returns a fixed text for every request.
//!
//! Build it with the receiver's profile: `cargo build --release --example hello`.

use lambda_http::{Body, Error, Request, Response, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    lambda_http::run(service_fn(|_request: Request| async {
        Ok::<_, Error>(Response::new(Body::Text("hello".to_owned())))
    }))
    .await
}

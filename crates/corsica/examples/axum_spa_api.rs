//! The classic scenario: a React app on `https://app.example.com` calls the API on
//! `https://api.example.com` with JSON and an `X-API-Key` header, so every write is
//! preflighted.
//!
//! ```text
//! cargo run -p corsica --features tower --example axum_spa_api
//! ```
//!
//! then, in another terminal, play the browser:
//!
//! ```text
//! # the preflight the browser sends before fetch(url, {method: 'POST', headers: {'X-API-Key': ..., 'Content-Type': 'application/json'}})
//! curl -i -X OPTIONS http://127.0.0.1:3000/api/orders \
//!   -H 'Origin: https://app.example.com' \
//!   -H 'Access-Control-Request-Method: POST' \
//!   -H 'Access-Control-Request-Headers: content-type,x-api-key'
//! # the same from another site: 403, no CORS headers, and the log says why
//! curl -i -X OPTIONS http://127.0.0.1:3000/api/orders \
//!   -H 'Origin: https://app.example.com.evil.net' -H 'Access-Control-Request-Method: POST'
//! ```

use axum::routing::get;
use axum::{Json, Router};
use corsica::Policy;
use corsica::tower::CorsLayer;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();

    // The policy refuses insecure combinations at build time (try adding "*" with credentials).
    let policy = Policy::builder()
        .allow_origins(["https://app.example.com"])
        .allow_methods(["GET", "POST", "PUT", "DELETE"])
        .allow_headers(["content-type", "x-api-key"])
        .expose_headers(["x-request-id"])
        .max_age_secs(7200)
        .build()?;

    let app = Router::new()
        .route(
            "/api/orders",
            get(|| async { Json(serde_like_orders()) })
                .post(|| async { ([("x-request-id", "42")], "created") }),
        )
        .layer(CorsLayer::new(policy));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!(
        "API on http://{} — CORS for https://app.example.com",
        listener.local_addr()?
    );
    axum::serve(listener, app).await?;
    Ok(())
}

fn serde_like_orders() -> Vec<String> {
    vec!["order-1".into(), "order-2".into()]
}

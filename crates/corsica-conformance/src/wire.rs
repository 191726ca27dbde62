//! The WebSocket plumbing both browser drivers share (Chromium's DevTools protocol in
//! `cdp.rs`, Firefox's WebDriver BiDi in `bidi.rs`): JSON commands numbered by `id`, one
//! task writing, one task reading that hands each answer to its caller and every other
//! message (an event) to the driver's handler.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Result<Value, String>>>>>;

/// How long a command may wait for its answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// Event streams by the page they are about (a CDP session, a BiDi browsing context).
#[derive(Clone, Default)]
pub struct Routes(Arc<Mutex<HashMap<String, mpsc::UnboundedSender<Value>>>>);

impl Routes {
    /// Opens the event stream of `page`.
    pub fn open(&self, page: &str) -> Result<mpsc::UnboundedReceiver<Value>, String> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.0
            .lock()
            .map_err(|_| "the event routes are poisoned")?
            .insert(page.to_owned(), tx);
        Ok(rx)
    }

    /// Hands `event` to the stream of `page`, if it has one.
    pub fn send(&self, page: &str, event: Value) {
        if let Some(tx) = self.0.lock().ok().and_then(|r| r.get(page).cloned()) {
            let _ = tx.send(event);
        }
    }
}

/// A connection to a browser's remote protocol.
pub struct Wire {
    out: mpsc::UnboundedSender<Message>,
    pending: Pending,
    next_id: AtomicU64,
    /// The protocol's name, for errors ("DevTools", "WebDriver BiDi").
    protocol: &'static str,
}

impl Wire {
    /// Connects to `url`; every message that is not an answer (an event) goes to the
    /// stream in `routes` of the page `page_of` finds in it (events of no page are dropped).
    pub async fn connect(
        url: &str,
        protocol: &'static str,
        routes: Routes,
        page_of: fn(&Value) -> Option<&str>,
    ) -> Result<Wire, String> {
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .map_err(|e| format!("cannot connect to the {protocol} endpoint {url}: {e}"))?;
        let (mut sink, mut stream) = ws.split();
        let (out, mut out_rx) = mpsc::unbounded_channel::<Message>();
        tokio::spawn(async move {
            while let Some(m) = out_rx.recv().await {
                if sink.send(m).await.is_err() {
                    break;
                }
            }
        });
        let pending: Pending = Arc::default();
        {
            let pending = pending.clone();
            tokio::spawn(async move {
                while let Some(Ok(msg)) = stream.next().await {
                    let Message::Text(text) = msg else { continue };
                    let Ok(v) = serde_json::from_str::<Value>(&text) else {
                        continue;
                    };
                    let Some(id) = v.get("id").and_then(Value::as_u64) else {
                        if let Some(page) = page_of(&v).map(str::to_owned) {
                            routes.send(&page, v);
                        }
                        continue;
                    };
                    let tx = pending.lock().ok().and_then(|mut p| p.remove(&id));
                    if let Some(tx) = tx {
                        let _ = tx.send(answer(&v));
                    }
                }
                // The connection is gone: fail every command still waiting.
                if let Ok(mut p) = pending.lock() {
                    p.clear();
                }
            });
        }
        Ok(Wire {
            out,
            pending,
            next_id: AtomicU64::new(1),
            protocol,
        })
    }

    /// Sends `method` with `params` (and `sessionId` when given: CDP's flat sessions) and
    /// waits for its result.
    pub async fn call(
        &self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, String> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = Value::String(s.to_owned());
        }
        let (tx, rx) = oneshot::channel();
        self.pending
            .lock()
            .map_err(|_| "the command table is poisoned")?
            .insert(id, tx);
        self.out
            .send(Message::Text(msg.to_string().into()))
            .map_err(|_| format!("the {} connection is closed", self.protocol))?;
        match tokio::time::timeout(ANSWER_TIMEOUT, rx).await {
            Ok(Ok(r)) => r.map_err(|e| format!("{method}: {e}")),
            Ok(Err(_)) => Err(format!("{method}: the {} connection closed", self.protocol)),
            Err(_) => Err(format!(
                "{method}: no answer within {} s",
                ANSWER_TIMEOUT.as_secs()
            )),
        }
    }
}

/// The result of an answer, or its error: CDP's `{error: {code, message}}` or BiDi's
/// `{type: "error", error, message}`.
fn answer(v: &Value) -> Result<Value, String> {
    match v.get("error") {
        Some(Value::String(e)) => Err(match v.get("message").and_then(Value::as_str) {
            Some(m) => format!("{e}: {m}"),
            None => e.clone(),
        }),
        Some(e) => Err(e.to_string()),
        None => Ok(v.get("result").cloned().unwrap_or(Value::Null)),
    }
}

//! Caddy: to be written.

use crate::plan::Plan;

/// Renders the `Caddyfile`.
pub(crate) fn render(_plan: &Plan) -> Vec<(String, String)> {
    vec![("Caddyfile".to_owned(), String::new())]
}

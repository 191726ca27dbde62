//! HAProxy: to be written.

use crate::plan::Plan;

/// Renders `haproxy.cfg`.
pub(crate) fn render(_plan: &Plan) -> Vec<(String, String)> {
    vec![("haproxy.cfg".to_owned(), String::new())]
}

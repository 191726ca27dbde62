//! The console's HTML, rendered on the server: complete without JavaScript (the
//! dashboard's tables; the scripts only keep them live and draw the chart). Every value
//! from a request or the configuration is escaped.

use std::fmt::Write as _;

use serde_json::Value;

/// `s` escaped for HTML text and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The page around `main`: title, navigation (the current page marked), stylesheet, and
/// the page's script when it has one.
fn page(title: &str, current: &str, script: Option<&str>, head: &str, main: &str) -> String {
    let nav = [
        ("/_corsica/", "Dashboard"),
        ("/_corsica/playground", "Playground"),
    ]
    .iter()
    .map(|(href, label)| {
        let here = if *label == current {
            " aria-current=\"page\""
        } else {
            ""
        };
        format!("<a href=\"{href}\"{here}>{label}</a>")
    })
    .collect::<Vec<_>>()
    .join(" ");
    let script = script
        .map(|s| format!("<script src=\"/_corsica/assets/{s}\" defer></script>"))
        .unwrap_or_default();
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title} · Corsica</title>\n\
         <link rel=\"stylesheet\" href=\"/_corsica/assets/console.css\">\n{script}\n{head}</head>\n\
         <body>\n<a class=\"skip\" href=\"#main\">Skip to content</a>\n\
         <header><span class=\"brand\">Corsica</span>\n<nav aria-label=\"Console\">{nav}</nav></header>\n\
         <main id=\"main\">\n{main}</main>\n</body>\n</html>\n"
    )
}

/// The outcomes in the dashboard's columns: label, heading.
pub(crate) const OUTCOMES: [(&str, &str); 7] = [
    ("preflight_allowed", "Preflights allowed"),
    ("actual_allowed", "Requests allowed"),
    ("preflight_denied", "Preflights denied"),
    ("actual_denied", "Requests denied"),
    ("guard_refused", "Refused by the guard"),
    ("not_cors", "Not CORS"),
    ("no_route", "No route"),
];

fn num(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_default()
}

/// The dashboard, from a snapshot (see `console::snapshot`).
pub(crate) fn dashboard(s: &Value) -> String {
    let mut m = String::new();
    m.push_str("<h1>Gateway dashboard</h1>\n");
    // Configuration.
    let c = &s["config"];
    let _ = write!(
        m,
        "<section aria-labelledby=\"config-h\">\n<h2 id=\"config-h\">Configuration</h2>\n\
         <dl id=\"config\">\n<dt>Version</dt><dd id=\"config-version\">{}</dd>\n\
         <dt>Applied</dt><dd><time id=\"config-applied\" data-ms=\"{}\">{}</time></dd>\n\
         <dt>Last reload</dt><dd id=\"config-reload\">{}</dd>\n</dl>\n<ul id=\"config-errors\" class=\"errors\">",
        num(&c["version"]),
        num(&c["applied_at"]),
        num(&c["applied_at"]),
        match c["last_reload"]["result"].as_str() {
            Some("ok") => "applied".to_owned(),
            Some(_) => "refused: the configuration above keeps running".to_owned(),
            None => "none since start".to_owned(),
        }
    );
    for e in c["last_reload"]["errors"].as_array().into_iter().flatten() {
        let _ = write!(m, "<li>{}</li>", esc(e.as_str().unwrap_or_default()));
    }
    m.push_str("</ul>\n");
    active(&mut m, &s["active"]);
    m.push_str("</section>\n");
    // Chart (drawn by the script).
    m.push_str(
        "<section aria-labelledby=\"chart-h\">\n<h2 id=\"chart-h\">Allowed and denied, per second</h2>\n\
         <figure>\n<svg id=\"chart\" viewBox=\"0 0 600 160\" preserveAspectRatio=\"none\" role=\"img\" aria-labelledby=\"chart-caption\"></svg>\n\
         <p id=\"chart-legend\" class=\"status\"></p>\n\
         <figcaption id=\"chart-caption\">CORS requests allowed (green) and denied (red) each second, the last five minutes.\
         <noscript> The chart needs JavaScript; the tables show the same counts.</noscript></figcaption>\n</figure>\n</section>\n",
    );
    // Routes.
    m.push_str(
        "<section aria-labelledby=\"routes-h\">\n<h2 id=\"routes-h\">Requests by route</h2>\n\
         <div class=\"scroll\"><table id=\"routes\">\n<caption>Since the gateway started</caption>\n<thead><tr><th scope=\"col\">Route</th>",
    );
    for (_, heading) in OUTCOMES {
        let _ = write!(m, "<th scope=\"col\">{heading}</th>");
    }
    m.push_str("</tr></thead>\n<tbody>\n");
    for r in s["routes"].as_array().into_iter().flatten() {
        let name = text(r, "route");
        let shown = if name.is_empty() {
            "(no route)".to_owned()
        } else {
            esc(name)
        };
        let _ = write!(m, "<tr><th scope=\"row\">{shown}</th>");
        for (label, _) in OUTCOMES {
            let _ = write!(m, "<td>{}</td>", num(&r["outcomes"][label]));
        }
        m.push_str("</tr>\n");
    }
    m.push_str("</tbody>\n</table></div>\n</section>\n");
    // Denials.
    m.push_str(
        "<section aria-labelledby=\"denials-h\">\n<h2 id=\"denials-h\">Latest denials</h2>\n\
         <div class=\"scroll\"><table id=\"denials\">\n<caption>The last 50, newest first</caption>\n\
         <thead><tr><th scope=\"col\">Time</th><th scope=\"col\">Route</th><th scope=\"col\">Request</th>\
         <th scope=\"col\">Origin</th><th scope=\"col\">Rule</th><th scope=\"col\">Reason</th></tr></thead>\n<tbody>\n",
    );
    let denials = s["denials"].as_array().cloned().unwrap_or_default();
    if denials.is_empty() {
        m.push_str("<tr class=\"empty\"><td colspan=\"6\">No denial yet.</td></tr>\n");
    }
    for d in &denials {
        let _ = writeln!(
            m,
            "<tr><td><time data-ms=\"{}\">{}</time></td><td>{}</td><td><code>{} {}</code></td><td><code>{}</code></td><td><code>{}</code></td><td>{}</td></tr>",
            num(&d["at"]),
            num(&d["at"]),
            esc(text(d, "route")),
            esc(text(d, "method")),
            esc(text(d, "path")),
            esc(text(d, "origin")),
            esc(text(d, "reason")),
            esc(text(d, "message")),
        );
    }
    m.push_str("</tbody>\n</table></div>\n</section>\n");
    shadow(&mut m, &s["shadow"]);
    m.push_str(
        "<p id=\"live\" class=\"status\" role=\"status\" aria-live=\"polite\">\
         <noscript>Not live without JavaScript: this page reloads every 5 seconds.</noscript></p>\n",
    );
    page(
        "Dashboard",
        "Dashboard",
        Some("dashboard.js"),
        "<noscript><meta http-equiv=\"refresh\" content=\"5\"></noscript>\n",
        &m,
    )
}

/// The routes in force.
fn active(m: &mut String, routes: &Value) {
    m.push_str(
        "<div class=\"scroll\"><table id=\"active\">\n<caption>Routes in force, in the order they are tried</caption>\n\
         <thead><tr><th scope=\"col\">Route</th><th scope=\"col\">Matches</th><th scope=\"col\">Upstream</th><th scope=\"col\">Origins</th><th scope=\"col\">Credentials</th></tr></thead>\n<tbody>\n",
    );
    for r in routes.as_array().into_iter().flatten() {
        let matches = format!(
            "{}{}",
            r["host"].as_str().unwrap_or("any host"),
            r["path"]
                .as_str()
                .map_or_else(|| " /".to_owned(), |p| format!(" {p}"))
        );
        let mut origins = r["origins"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        let more = num(&r["more_origins"]);
        if more > 0 {
            let _ = write!(origins, " and {more} more");
        }
        let shadow = if r["shadow"].as_bool() == Some(true) {
            " <span class=\"status\">(with a shadow candidate)</span>"
        } else {
            ""
        };
        let _ = writeln!(
            m,
            "<tr><th scope=\"row\">{}{shadow}</th><td><code>{}</code></td><td><code>{}</code></td><td><code>{}</code></td><td>{}</td></tr>",
            esc(text(r, "name")),
            esc(&matches),
            esc(text(r, "upstream")),
            esc(&origins),
            if r["credentials"].as_bool() == Some(true) {
                "yes"
            } else {
                "no"
            },
        );
    }
    m.push_str("</tbody>\n</table></div>\n");
}

/// The shadow policies' section: per route, the requests whose verdict the candidate
/// would change; the latest of them.
fn shadow(m: &mut String, s: &Value) {
    m.push_str(
        "<section aria-labelledby=\"shadow-h\">\n<h2 id=\"shadow-h\">Shadow policies (report-only)</h2>\n\
         <p class=\"status\">A route's <code>[route.cors_shadow]</code> candidate is evaluated on every request; the policy in force still answers. Promote it by editing the configuration and reloading.</p>\n",
    );
    let routes = s["routes"].as_array().cloned().unwrap_or_default();
    if routes.is_empty() {
        m.push_str("<p id=\"shadow-none\">No route has a candidate policy.</p>\n</section>\n");
        return;
    }
    m.push_str(
        "<div class=\"scroll\"><table id=\"shadow-routes\">\n<caption>Requests whose verdict the candidate would change, since the gateway started</caption>\n\
         <thead><tr><th scope=\"col\">Route</th><th scope=\"col\">Would now deny</th><th scope=\"col\">Would now allow</th><th scope=\"col\">Would change what the page reads</th></tr></thead>\n<tbody>\n",
    );
    for r in &routes {
        let name = esc(text(r, "route"));
        let _ = write!(m, "<tr><th scope=\"row\">{name}</th>");
        for change in ["would_deny", "would_allow", "would_change"] {
            let _ = write!(
                m,
                "<td id=\"shadow-{name}-{change}\">{}</td>",
                num(&r[change])
            );
        }
        m.push_str("</tr>\n");
    }
    m.push_str(
        "</tbody>\n</table></div>\n<div class=\"scroll\"><table id=\"shadow-samples\">\n<caption>The latest, newest first</caption>\n\
         <thead><tr><th scope=\"col\">Time</th><th scope=\"col\">Route</th><th scope=\"col\">What would change</th></tr></thead>\n<tbody>\n",
    );
    let samples = s["samples"].as_array().cloned().unwrap_or_default();
    if samples.is_empty() {
        m.push_str("<tr class=\"empty\"><td colspan=\"3\">No difference yet.</td></tr>\n");
    }
    for x in samples.iter().rev() {
        let _ = writeln!(
            m,
            "<tr><td><time data-ms=\"{}\">{}</time></td><td>{}</td><td>{}</td></tr>",
            num(&x["unix_ms"]),
            num(&x["unix_ms"]),
            esc(text(x, "route")),
            esc(text(x, "message")),
        );
    }
    m.push_str("</tbody>\n</table></div>\n</section>\n");
}

/// A form field: label, control, and the place its error is shown.
fn field(id: &str, label: &str, control: &str, help: &str) -> String {
    format!(
        "<div class=\"field\"><label for=\"{id}\">{label}</label>{control}\
         <p class=\"help\" id=\"{id}-help\">{help}</p><p class=\"error\" id=\"{id}-error\" role=\"alert\"></p></div>\n"
    )
}

/// The playground page; `query` is its URL's query (the case, so a link reproduces it).
pub(crate) fn playground(query: &str) -> String {
    let q: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let get = |k: &str, default: &str| {
        q.iter()
            .find(|(n, _)| n == k)
            .map_or_else(|| default.to_owned(), |(_, v)| v.clone())
    };
    let input = |id: &str, default: &str| {
        format!(
            "<input id=\"{id}\" name=\"{id}\" value=\"{}\" autocomplete=\"off\" spellcheck=\"false\" aria-describedby=\"{id}-help {id}-error\">",
            esc(&get(id, default))
        )
    };
    let area = |id: &str, rows: u8, placeholder: &str| {
        format!(
            "<textarea id=\"{id}\" name=\"{id}\" rows=\"{rows}\" spellcheck=\"false\" placeholder=\"{}\" aria-describedby=\"{id}-help {id}-error\">{}</textarea>",
            esc(placeholder),
            esc(&get(id, ""))
        )
    };
    let select = |id: &str, options: &[(&str, &str)], default: &str| {
        let chosen = get(id, default);
        let opts: String = options
            .iter()
            .map(|(v, l)| {
                let sel = if *v == chosen { " selected" } else { "" };
                format!("<option value=\"{v}\"{sel}>{l}</option>")
            })
            .collect();
        format!(
            "<select id=\"{id}\" name=\"{id}\" aria-describedby=\"{id}-help {id}-error\">{opts}</select>"
        )
    };
    let mut m = String::new();
    m.push_str(
        "<h1>CORS playground</h1>\n<p class=\"lead\">Type a <code>fetch()</code> call and what the server answers: see whether the browser sends a preflight and why, each request it makes, the console message it prints, and the fix. The link of this page holds the case.</p>\n\
         <noscript><p class=\"error\">The playground needs JavaScript: it asks this gateway's browser model at each change.</p></noscript>\n\
         <div class=\"playground\">\n<form id=\"case\" method=\"get\" action=\"/_corsica/playground\">\n<fieldset><legend>The page and its <code>fetch()</code></legend>\n",
    );
    m.push_str(&field(
        "origin",
        "Page origin",
        &input("origin", "https://app.example.com"),
        "Where the page runs: scheme, host and port.",
    ));
    m.push_str(&field(
        "url",
        "URL",
        &input("url", "https://api.example.com/orders"),
        "The URL passed to fetch().",
    ));
    m.push_str(&field(
        "method",
        "Method",
        &input("method", "GET"),
        "GET, POST, PUT, DELETE…",
    ));
    m.push_str(&field(
        "headers",
        "Headers",
        &area("headers", 3, "X-API-Key: secret"),
        "One Name: value a line, as the page sets them.",
    ));
    m.push_str(&field(
        "credentials",
        "Credentials",
        &select(
            "credentials",
            &[
                ("same-origin", "same-origin (default)"),
                ("include", "include (cookies)"),
                ("omit", "omit"),
            ],
            "same-origin",
        ),
        "",
    ));
    m.push_str(&field(
        "browser",
        "Browser",
        &select(
            "browser",
            &[
                ("chromium", "Chromium (Chrome, Edge)"),
                ("firefox", "Firefox"),
                ("webkit", "WebKit (Safari)"),
            ],
            "chromium",
        ),
        "",
    ));
    m.push_str("</fieldset>\n<fieldset><legend>The server's answers</legend>\n");
    m.push_str(&field(
        "answers",
        "Answered by",
        &select(
            "answers",
            &[
                ("typed", "the answers typed below"),
                ("gateway", "this gateway's configuration"),
                ("config", "a gateway configuration pasted below"),
            ],
            "typed",
        ),
        "",
    ));
    m.push_str(&field(
        "preflight",
        "Preflight response",
        &area(
            "preflight",
            5,
            "HTTP/1.1 204 No Content\nAccess-Control-Allow-Origin: https://app.example.com\nAccess-Control-Allow-Methods: GET, POST",
        ),
        "Header lines, a raw response, or curl -i output (status 204 when none is given).",
    ));
    m.push_str(&field(
        "response",
        "Response",
        &area(
            "response",
            5,
            "HTTP/1.1 200 OK\nAccess-Control-Allow-Origin: https://app.example.com",
        ),
        "The answer to the request itself; several responses (curl -i -L) answer each redirect in turn.",
    ));
    m.push_str(&field(
        "config",
        "Gateway configuration",
        &area(
            "config",
            8,
            "[[route]]\nupstream = \"echo\"\n[route.cors]\norigins = [\"https://app.example.com\"]",
        ),
        "TOML, as corsica serve reads it (when answered by a pasted configuration).",
    ));
    m.push_str(
        "</fieldset>\n<p class=\"actions\"><button type=\"submit\">Check</button> <button type=\"button\" id=\"copy\">Copy link</button></p>\n</form>\n\
         <section id=\"result\" aria-labelledby=\"result-h\" aria-live=\"polite\">\n<h2 id=\"result-h\">What the browser does</h2>\n<p class=\"status\" id=\"verdict\">…</p>\n</section>\n</div>\n",
    );
    page("Playground", "Playground", Some("playground.js"), "", &m)
}

/// The login form (when a token is configured); `failed`: the last try was wrong.
pub(crate) fn login(has_token: bool, failed: bool) -> String {
    let mut m = String::from("<h1>Log in to the console</h1>\n");
    if !has_token {
        m.push_str("<p>This gateway has no admin token: the console is open. <a href=\"/_corsica/\">Go to the dashboard</a>.</p>\n");
    } else {
        if failed {
            m.push_str(
                "<p class=\"error\" role=\"alert\">That is not this gateway's admin token.</p>\n",
            );
        }
        m.push_str(
            "<form method=\"post\" action=\"/_corsica/login\">\n<div class=\"field\"><label for=\"token\">Admin token</label>\
             <input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"current-password\" required>\
             <p class=\"help\">The gateway's <code>admin_token</code> (or <code>CORSICA_ADMIN_TOKEN</code>).</p></div>\n\
             <p class=\"actions\"><button type=\"submit\">Log in</button></p>\n</form>\n",
        );
    }
    page("Log in", "", None, "", &m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_from_requests_are_escaped() {
        assert_eq!(esc("<script>\"&'"), "&lt;script&gt;&quot;&amp;&#39;");
        let s = serde_json::json!({
            "config": {"version": 1, "applied_at": 0},
            "routes": [],
            "denials": [{"at": 1, "route": "api", "method": "GET", "path": "/<x>", "origin": "https://a\"b", "message": "<b>"}],
        });
        let html = dashboard(&s);
        assert!(html.contains("/&lt;x&gt;"));
        assert!(!html.contains("<b>"));
        let page = playground("origin=%22%3E%3Cscript%3E");
        assert!(page.contains("value=\"&quot;&gt;&lt;script&gt;\""));
    }
}

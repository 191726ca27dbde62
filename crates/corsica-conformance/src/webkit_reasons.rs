//! WebKit's CORS console texts, as data: the templates of WebKitGTK 2.50
//! (`libwebkit2gtk-4.1`, WebCore's and the NetworkProcess's CORS checks; `Not allowed to
//! request resource`, for a no-cors `fetch()` with `redirect: "manual"`, is not in the reference), printed after
//! `CONSOLE SECURITY ERROR ` by a shell with `enable-write-console-messages-to-stdout`, and
//! the recognition of a text as one of them. The kind names are ours (WebKit has none);
//! they follow `/work/shared/reference/webkit-cors.md`.

/// What a template's placeholder stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// The failed parameter: the origin, a method, a header name, a header value, or the
    /// redirect's target URL.
    Parameter,
    /// The response's status code.
    Status,
    /// The text of another template (a redirect's inner failure).
    Inner,
}

/// One CORS console text of WebKit: `{}` marks each placeholder, described by `slots`.
#[derive(Debug)]
pub struct Template {
    /// Our name for it.
    pub kind: &'static str,
    /// The English text.
    pub text: &'static str,
    /// What each `{}` is, in order.
    pub slots: &'static [Slot],
}

use Slot::{Inner, Parameter, Status};

/// The CORS texts of WebKitGTK 2.50.6 (the specific ones before the general: the
/// redirect's credentials text before the redirect's wrapper).
pub const TEMPLATES: &[Template] = &[
    Template {
        kind: "OriginNotAllowed",
        text: "Origin {} is not allowed by Access-Control-Allow-Origin. Status code: {}",
        slots: &[Parameter, Status],
    },
    Template {
        kind: "WildcardWithCredentials",
        text: "Cannot use wildcard in Access-Control-Allow-Origin when credentials flag is true.",
        slots: &[],
    },
    Template {
        kind: "MultipleAllowOrigin",
        text: "Access-Control-Allow-Origin cannot contain more than one origin.",
        slots: &[],
    },
    Template {
        kind: "CredentialsNotTrue",
        text: "Credentials flag is true, but Access-Control-Allow-Credentials is not \"true\".",
        slots: &[],
    },
    Template {
        kind: "PreflightNotSuccessful",
        text: "Preflight response is not successful. Status code: {}",
        slots: &[Status],
    },
    Template {
        kind: "MethodNotAllowed",
        text: "Method {} is not allowed by Access-Control-Allow-Methods.",
        slots: &[Parameter],
    },
    Template {
        kind: "HeaderNotAllowed",
        text: "Request header field {} is not allowed by Access-Control-Allow-Headers.",
        slots: &[Parameter],
    },
    Template {
        kind: "InvalidAllowMethods",
        text: "Header Access-Control-Allow-Methods has an invalid value: {}",
        slots: &[Parameter],
    },
    Template {
        kind: "InvalidAllowHeaders",
        text: "Header Access-Control-Allow-Headers has an invalid value: {}",
        slots: &[Parameter],
    },
    Template {
        kind: "RedirectUrlHasCredentials",
        text: "Cross-origin redirection to {} denied by Cross-Origin Resource Sharing policy: redirection URL {} has credentials",
        slots: &[Parameter, Parameter],
    },
    Template {
        kind: "RedirectNonCorsScheme",
        text: "Cross-origin redirection to {} denied by Cross-Origin Resource Sharing policy: not allowed to follow a cross-origin CORS redirection with non CORS scheme",
        slots: &[Parameter],
    },
    Template {
        kind: "Redirect",
        text: "Cross-origin redirection to {} denied by Cross-Origin Resource Sharing policy: {}",
        slots: &[Parameter, Inner],
    },
    Template {
        kind: "RedirectDenied",
        text: "Cross-origin redirection denied by Cross-Origin Resource Sharing policy.",
        slots: &[],
    },
    Template {
        kind: "RedirectNotHttp",
        text: "Redirection to URL with a scheme that is not HTTP(S).",
        slots: &[],
    },
    Template {
        kind: "TooManyRedirects",
        text: "Load cannot follow more than 20 redirections",
        slots: &[],
    },
    Template {
        kind: "RedirectNotAllowed",
        text: "Not allowed to follow a redirection while loading {}",
        slots: &[Parameter],
    },
    Template {
        kind: "RequestNotAllowed",
        text: "Not allowed to request resource",
        slots: &[],
    },
    Template {
        kind: "PreflightBlocked",
        text: "Preflight response was blocked",
        slots: &[],
    },
    Template {
        kind: "PreflightRequestBlocked",
        text: "CORS-preflight request was blocked",
        slots: &[],
    },
];

/// The prefix of the line WebKit prints for a CORS failure.
pub const SECURITY_ERROR: &str = "CONSOLE SECURITY ERROR ";

/// The line that follows it: `CONSOLE JS ERROR Fetch API cannot load {url} due to access
/// control checks.`; gives the URL.
pub fn fetch_error_url(line: &str) -> Option<&str> {
    line.strip_prefix("CONSOLE JS ERROR Fetch API cannot load ")?
        .strip_suffix(" due to access control checks.")
}

/// A console text recognised as one of the [`TEMPLATES`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recognised {
    /// The template's kind (`Redirect` for the wrapper; its failure is `inner`).
    pub kind: &'static str,
    /// The failed parameter (the redirect's target URL for `Redirect…`), where the text
    /// names one.
    pub parameter: Option<String>,
    /// The status code, where the text gives one.
    pub status: Option<String>,
    /// A redirect's inner failure.
    pub inner: Option<Box<Recognised>>,
}

impl Recognised {
    /// The kind, with a redirect's inner kind: `Redirect/OriginNotAllowed`.
    pub fn key(&self) -> String {
        match &self.inner {
            Some(i) => format!("{}/{}", self.kind, i.key()),
            None => self.kind.to_owned(),
        }
    }
}

impl Template {
    /// Matches `text`: the literal pieces in order, each `{}` taking what lies up to the
    /// next piece's first place (the last piece must end the text).
    fn recognise(&'static self, text: &str) -> Option<Recognised> {
        let pieces: Vec<&str> = self.text.split("{}").collect();
        let mut rest = text.strip_prefix(pieces[0])?;
        let mut values = Vec::new();
        for (i, piece) in pieces.iter().enumerate().skip(1) {
            let at = if i == pieces.len() - 1 {
                rest.strip_suffix(piece).map(str::len)?
            } else if piece.is_empty() {
                rest.len()
            } else {
                rest.find(piece)?
            };
            values.push(&rest[..at]);
            rest = &rest[at + piece.len()..];
        }
        if !rest.is_empty() {
            return None;
        }
        let mut r = Recognised {
            kind: self.kind,
            parameter: None,
            status: None,
            inner: None,
        };
        for (slot, v) in self.slots.iter().zip(values) {
            match slot {
                Parameter if r.parameter.is_none() => r.parameter = Some(v.to_owned()),
                Parameter => {}
                Status => r.status = Some(v.to_owned()),
                Inner => r.inner = Some(Box::new(recognise(v)?)),
            }
        }
        Some(r)
    }
}

/// Recognises a console text (without `CONSOLE SECURITY ERROR `) as one of WebKit's.
pub fn recognise(text: &str) -> Option<Recognised> {
    TEMPLATES.iter().find_map(|t| t.recognise(text))
}

/// Pairs each `CONSOLE SECURITY ERROR` line with the URL of the `CONSOLE JS ERROR Fetch
/// API cannot load …` line right after it: (URL, security text) in order.
pub fn pair(lines: &[String]) -> Vec<(String, String)> {
    lines
        .windows(2)
        .filter_map(|w| {
            let text = w[0].strip_prefix(SECURITY_ERROR)?;
            let url = fetch_error_url(&w[1])?;
            Some((url.to_owned(), text.to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_each_kind_with_its_parameter() {
        let r = recognise(
            "Origin http://app.localhost:1 is not allowed by Access-Control-Allow-Origin. Status code: 204",
        )
        .expect("recognised");
        assert_eq!(r.kind, "OriginNotAllowed");
        assert_eq!(r.parameter.as_deref(), Some("http://app.localhost:1"));
        assert_eq!(r.status.as_deref(), Some("204"));
        let r =
            recognise("Request header field x-a is not allowed by Access-Control-Allow-Headers.")
                .expect("recognised");
        assert_eq!(
            (r.kind, r.parameter.as_deref()),
            ("HeaderNotAllowed", Some("x-a"))
        );
        let r = recognise(
            "Cross-origin redirection to http://o:2/s/1/1 denied by Cross-Origin Resource Sharing policy: Origin null is not allowed by Access-Control-Allow-Origin. Status code: 200",
        )
        .expect("recognised");
        assert_eq!(r.key(), "Redirect/OriginNotAllowed");
        assert_eq!(r.parameter.as_deref(), Some("http://o:2/s/1/1"));
        let r = recognise(
            "Cross-origin redirection to http://u:p@o:2/s/1/1 denied by Cross-Origin Resource Sharing policy: redirection URL http://u:p@o:2/s/1/1 has credentials",
        )
        .expect("recognised");
        assert_eq!(r.key(), "RedirectUrlHasCredentials");
        assert_eq!(recognise("Something else"), None);
    }

    #[test]
    fn pairs_each_security_error_with_the_next_url() {
        let lines: Vec<String> = [
            "noise",
            "CONSOLE SECURITY ERROR Preflight response is not successful. Status code: 500",
            "CONSOLE JS ERROR Fetch API cannot load http://a/s/3/0 due to access control checks.",
            "CONSOLE SECURITY ERROR dangling",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        assert_eq!(
            pair(&lines),
            vec![(
                "http://a/s/3/0".to_owned(),
                "Preflight response is not successful. Status code: 500".to_owned()
            )]
        );
    }
}

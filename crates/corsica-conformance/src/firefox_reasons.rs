//! Firefox's CORS console texts, as data: the `security.properties` entries of Firefox ESR
//! 153 (`chrome/en-US/locale/en-US/global/security/security.properties` in `omni.ja`), and
//! the recognition of a console text as one of them. The keys are written without their
//! version digits (`CORSMissingAllowOrigin2` is `CORSMissingAllowOrigin`), as MDN names its
//! CORS error pages.

/// What a template's second placeholder (`%2$S`) stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Second {
    /// There is none.
    Nothing,
    /// The failed parameter: a header name, a token, an origin value.
    Parameter,
    /// The response's status code.
    Status,
}

/// One `security.properties` entry about CORS.
#[derive(Debug)]
pub struct Template {
    /// The key, without version digits.
    pub key: &'static str,
    /// The English text; `%1$S` is the URL, `%2$S` is described by `second`.
    pub text: &'static str,
    /// What `%2$S` is.
    pub second: Second,
}

const BLOCKED: &str = "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at ";

/// Every CORS entry of `security.properties` (the blocking ones start with [`BLOCKED`]).
pub const TEMPLATES: &[Template] = &[
    Template {
        key: "CORSDisabled",
        text: "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at %1$S. (Reason: CORS disabled).",
        second: Second::Nothing,
    },
    Template {
        key: "CORSDidNotSucceed",
        text: "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at %1$S. (Reason: CORS request did not succeed). Status code: %2$S.",
        second: Second::Status,
    },
    Template {
        key: "CORSOriginHeaderNotAdded",
        text: "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at %1$S. (Reason: CORS header ‘Origin’ cannot be added).",
        second: Second::Nothing,
    },
    Template {
        key: "CORSExternalRedirectNotAllowed",
        text: "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at %1$S. (Reason: CORS request external redirect not allowed).",
        second: Second::Nothing,
    },
    Template {
        key: "CORSRequestNotHttp",
        text: "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at %1$S. (Reason: CORS request not http).",
        second: Second::Nothing,
    },
    Template {
        key: "CORSMissingAllowOrigin",
        text: "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at %1$S. (Reason: CORS header ‘Access-Control-Allow-Origin’ missing). Status code: %2$S.",
        second: Second::Status,
    },
    Template {
        key: "CORSMultipleAllowOriginNotAllowed",
        text: "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at %1$S. (Reason: Multiple CORS header ‘Access-Control-Allow-Origin’ not allowed).",
        second: Second::Nothing,
    },
    Template {
        key: "CORSAllowOriginNotMatchingOrigin",
        text: "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at %1$S. (Reason: CORS header ‘Access-Control-Allow-Origin’ does not match ‘%2$S’).",
        second: Second::Parameter,
    },
    Template {
        key: "CORSNotSupportingCredentials",
        text: "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at ‘%1$S’. (Reason: Credential is not supported if the CORS header ‘Access-Control-Allow-Origin’ is ‘*’).",
        second: Second::Nothing,
    },
    Template {
        key: "CORSMethodNotFound",
        text: "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at %1$S. (Reason: Did not find method in CORS header ‘Access-Control-Allow-Methods’).",
        second: Second::Nothing,
    },
    Template {
        key: "CORSMissingAllowCredentials",
        text: "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at %1$S. (Reason: expected ‘true’ in CORS header ‘Access-Control-Allow-Credentials’).",
        second: Second::Nothing,
    },
    Template {
        key: "CORSPreflightDidNotSucceed",
        text: "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at %1$S. (Reason: CORS preflight response did not succeed). Status code: %2$S.",
        second: Second::Status,
    },
    Template {
        key: "CORSInvalidAllowMethod",
        text: "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at %1$S. (Reason: invalid token ‘%2$S’ in CORS header ‘Access-Control-Allow-Methods’).",
        second: Second::Parameter,
    },
    Template {
        key: "CORSInvalidAllowHeader",
        text: "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at %1$S. (Reason: invalid token ‘%2$S’ in CORS header ‘Access-Control-Allow-Headers’).",
        second: Second::Parameter,
    },
    Template {
        key: "CORSMissingAllowHeaderFromPreflight",
        text: "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at %1$S. (Reason: header ‘%2$S’ is not allowed according to header ‘Access-Control-Allow-Headers’ from CORS preflight response).",
        second: Second::Parameter,
    },
    Template {
        key: "CORSAllowHeaderFromPreflightDeprecation",
        text: "Cross-Origin Request Warning: The Same Origin Policy will disallow reading the remote resource at %1$S soon. (Reason: When the `Access-Control-Allow-Headers` is `*`, the `Authorization` header is not covered. To include the `Authorization` header, it must be explicitly listed in CORS header `Access-Control-Allow-Headers`).",
        second: Second::Nothing,
    },
];

/// A console text recognised as one of the [`TEMPLATES`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recognised {
    /// The key, without version digits.
    pub key: &'static str,
    /// The URL the text names.
    pub url: String,
    /// The failed parameter, where the text names one.
    pub parameter: Option<String>,
    /// The status code, where the text gives one.
    pub status: Option<String>,
}

impl Template {
    /// Matches `text` against this template: the literal pieces in order, `%1$S` and
    /// `%2$S` taking what lies between them (the last piece must end the text).
    fn recognise(&'static self, text: &str) -> Option<Recognised> {
        let mut rest = text;
        let mut found: Vec<(&str, &str)> = Vec::new();
        let mut template = self.text;
        let mut pending: Option<&str> = None;
        loop {
            let next = ["%1$S", "%2$S"]
                .iter()
                .filter_map(|p| template.find(p).map(|i| (i, *p)))
                .min();
            let literal = next.map_or(template, |(i, _)| &template[..i]);
            let at = match (pending, next) {
                (None, _) => rest.strip_prefix(literal).map(|_| 0)?,
                // The last literal ends the text; others are found at their first place.
                (Some(_), None) => rest.strip_suffix(literal).map(str::len)?,
                (Some(_), Some(_)) => rest.find(literal)?,
            };
            if let Some(p) = pending.take() {
                found.push((p, &rest[..at]));
            }
            rest = &rest[at + literal.len()..];
            match next {
                Some((i, p)) => {
                    pending = Some(p);
                    template = &template[i + p.len()..];
                }
                None => break,
            }
        }
        if !rest.is_empty() {
            return None;
        }
        let value = |p: &str| {
            found
                .iter()
                .find(|(q, _)| *q == p)
                .map(|(_, v)| (*v).to_owned())
        };
        let second = value("%2$S");
        Some(Recognised {
            key: self.key,
            url: value("%1$S").unwrap_or_default(),
            parameter: second.clone().filter(|_| self.second == Second::Parameter),
            status: second.filter(|_| self.second == Second::Status),
        })
    }
}

/// Recognises a console text as one of Firefox's CORS entries.
pub fn recognise(text: &str) -> Option<Recognised> {
    TEMPLATES.iter().find_map(|t| t.recognise(text))
}

/// Whether a console text reports a blocked request (rather than a warning).
pub fn is_blocked(text: &str) -> bool {
    text.starts_with(BLOCKED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_each_template_with_its_placeholders() {
        let t = "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at http://api.localhost:1/s/3/0. (Reason: header ‘x-a’ is not allowed according to header ‘Access-Control-Allow-Headers’ from CORS preflight response).";
        let r = recognise(t).expect("recognised");
        assert_eq!(r.key, "CORSMissingAllowHeaderFromPreflight");
        assert_eq!(r.url, "http://api.localhost:1/s/3/0");
        assert_eq!(r.parameter.as_deref(), Some("x-a"));
        let t = "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at http://a/s/1/0. (Reason: CORS header ‘Access-Control-Allow-Origin’ missing). Status code: 500.";
        let r = recognise(t).expect("recognised");
        assert_eq!(r.key, "CORSMissingAllowOrigin");
        assert_eq!((r.parameter, r.status.as_deref()), (None, Some("500")));
        let t = "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at ‘http://a/s/1/0’. (Reason: Credential is not supported if the CORS header ‘Access-Control-Allow-Origin’ is ‘*’).";
        assert_eq!(
            recognise(t).map(|r| (r.key, r.url)),
            Some(("CORSNotSupportingCredentials", "http://a/s/1/0".to_owned()))
        );
        assert!(is_blocked(t));
        assert_eq!(
            recognise("Cross-Origin Request Blocked: something new"),
            None
        );
    }
}

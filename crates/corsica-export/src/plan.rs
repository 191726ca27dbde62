//! What every target needs, computed once from the configuration: which routes serve
//! which host, in which order; and for each route the regexes and the exact header values
//! its answers hold. The rules are the engine's (`corsica::Policy`); this module only
//! reads the built policy, so a target says what the engine decides.

use std::net::SocketAddr;

use corsica::OriginEntry;
use corsica_gateway::config::{Config, Route, Upstream};

use crate::regex;
use crate::{ExportError, Target};

/// What one tier answers with.
#[derive(Debug, Clone)]
pub(crate) struct TierPlan {
    /// `t` (trusted) or `p` (public): the tier's short name in the exports' variables.
    pub code: &'static str,
    /// `trusted` or `public`, for comments and Caddy's map outputs.
    pub word: &'static str,
    /// `Access-Control-Allow-Origin` echoes the request's origin (else `*`): the trusted
    /// tier of a policy that does not allow every origin.
    pub echoes_origin: bool,
    /// `Access-Control-Allow-Credentials: true` is sent: the trusted tier of a
    /// credentialed policy that does not allow every origin.
    pub credentials: bool,
    /// The methods an actual request or a preflight may use (alternation, no anchors).
    pub methods: String,
    /// The `Access-Control-Request-Headers` lines joined with `,` that are allowed
    /// (case-insensitive; no anchors).
    pub headers: String,
    /// With `headers = "*"`: `authorization` must be listed to be allowed.
    pub any_header_but_authorization: bool,
    pub allow_methods: Option<String>,
    /// `None` with `*` headers: the request's names, lower-cased, are echoed.
    pub allow_headers: Option<String>,
    pub expose_headers: Option<String>,
    pub max_age: Option<String>,
}

/// One route, ready to be said.
#[derive(Debug, Clone)]
pub(crate) struct RoutePlan {
    pub index: usize,
    pub name: String,
    /// `None`: every host.
    pub host: Option<String>,
    pub path: Option<String>,
    /// `http://host:port`.
    pub upstream: String,
    /// Every origin the policy trusts (`*`: every well-formed origin), as alternatives
    /// (no anchors).
    pub trusted: Vec<String>,
    /// `*`: answered `Access-Control-Allow-Origin: *`, never echoed, no credentials.
    pub any: bool,
    pub trusted_tier: TierPlan,
    /// The public tier, for every other well-formed origin.
    pub public_tier: Option<TierPlan>,
    pub preflight_status: u16,
    pub denied_status: u16,
    /// Most bytes of the `Access-Control-Request-Headers` lines joined with `,`.
    pub max_request_header_bytes: usize,
    /// Most items (empty ones too) of the `Access-Control-Request-Headers` lines joined
    /// with `,`: each line is at least one.
    pub max_request_items: usize,
}

impl RoutePlan {
    /// The route's tiers: the trusted one, then the public one if any.
    pub(crate) fn tiers(&self) -> impl Iterator<Item = &TierPlan> {
        std::iter::once(&self.trusted_tier).chain(self.public_tier.as_ref())
    }
}

/// The routes a host sees, in the order the gateway tries them.
#[derive(Debug, Clone)]
pub(crate) struct ServerPlan {
    /// `None`: every host no other server names.
    pub host: Option<String>,
    /// Indexes into [`Plan::routes`].
    pub routes: Vec<usize>,
    /// Routes left out because an earlier one takes all their requests.
    pub shadowed: Vec<(usize, usize)>,
}

/// The whole configuration.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub listen: SocketAddr,
    pub routes: Vec<RoutePlan>,
    pub servers: Vec<ServerPlan>,
    /// Origins some policy trusts by name (not `*`), for the answer to unrouted requests.
    pub unrouted_trusted: Vec<String>,
    /// Of those, the ones a credentialed policy trusts.
    pub unrouted_credentialed: Vec<String>,
    /// The configuration file's routes, for the header comment.
    pub route_count: usize,
    /// `[limits] upstream_timeout_ms`: then 504.
    pub upstream_timeout_ms: u128,
    /// `[limits] header_read_timeout_ms`: a request head must arrive within it.
    pub header_read_timeout_ms: u128,
}

/// What `target` cannot say of `config`.
pub(crate) fn refusals(config: &Config, target: Target) -> Vec<ExportError> {
    let mut out = Vec::new();
    let mut refuse = |route: Option<&Route>, feature: &str, fix: &str| {
        out.push(ExportError {
            target,
            route: route.map(|r| r.name().to_owned()),
            feature: feature.to_owned(),
            fix: fix.to_owned(),
        });
    };
    if config.tls().is_some() {
        refuse(
            None,
            "[tls] (TLS on the listener)",
            "terminate TLS in the target's own configuration (its certificate directives) and export without [tls]",
        );
    }
    for r in config.routes() {
        let p = r.policy();
        if matches!(r.upstream(), Upstream::Echo) {
            refuse(
                Some(r),
                "upstream = \"echo\" (the built-in echo service)",
                "point the route at a real upstream (`upstream = \"http://host:port\"`)",
            );
        }
        if matches!(r.upstream(), Upstream::Https { .. }) {
            refuse(
                Some(r),
                "an https:// upstream",
                "export with an http:// upstream, or add the TLS client settings (verification, SNI) to the exported file by hand",
            );
        }
        if r.methods().is_some() {
            refuse(
                Some(r),
                "methods (matching a route by request method)",
                "use one route per path, and list the methods in [route.cors] methods",
            );
        }
        if r.guard() {
            refuse(
                Some(r),
                "guard = true (the edge guard)",
                "keep the route on `corsica serve`, or export without the guard",
            );
        }
        if p.is_debug() {
            refuse(
                Some(r),
                "debug = true (the corsica-reason header and lists answered to denied preflights)",
                "export without debug; debug mode is for development",
            );
        }
        if p.allows_private_network() {
            refuse(
                Some(r),
                "private_network = true (Access-Control-Allow-Private-Network)",
                "keep the route on `corsica serve`",
            );
        }
        if r.shadow_policy().is_some() {
            refuse(
                Some(r),
                "cors_shadow (a report-only candidate policy)",
                "keep the route on `corsica serve`, or promote/remove the candidate before exporting",
            );
        }
        if p.origins().has_predicates() {
            refuse(
                Some(r),
                "an origin predicate",
                "list the origins or patterns instead",
            );
        }
    }
    out
}

/// A tier of `p`: the trusted one, or (`public`) the public one, with the
/// `Access-Control-Request-Headers` list regex within `max_items`.
fn tier(t: corsica::TierView<'_>, p: &corsica::Policy, public: bool, max_items: usize) -> TierPlan {
    let methods = match t.methods() {
        None => regex::TOKEN.to_owned(),
        Some(list) => list
            .iter()
            .map(|m| regex::escape(m))
            .collect::<Vec<_>>()
            .join("|"),
    };
    let names: Vec<String> = t.header_names().iter().map(|n| regex::escape(n)).collect();
    let item = if t.allows_any_header() {
        regex::TOKEN.to_owned()
    } else if names.is_empty() {
        // No header allowed: only empty items.
        regex::NEVER.to_owned()
    } else {
        names.join("|")
    };
    let trusted = !public && !p.origins().is_any();
    TierPlan {
        code: if public { "p" } else { "t" },
        word: if public { "public" } else { "trusted" },
        echoes_origin: trusted,
        credentials: trusted && p.allows_credentials(),
        methods,
        headers: regex::list(&item, max_items),
        any_header_but_authorization: t.allows_any_header()
            && !t.header_names().contains(&"authorization"),
        allow_methods: t.allow_methods_value().map(str::to_owned),
        allow_headers: t.allow_headers_value().map(str::to_owned),
        expose_headers: t.expose_headers_value().map(str::to_owned),
        max_age: t.max_age_value().map(str::to_owned),
    }
}

impl Plan {
    /// "1 route", "3 routes": for the header comment.
    pub(crate) fn routes_phrase(&self) -> String {
        match self.route_count {
            1 => "1 route".to_owned(),
            n => format!("{n} routes"),
        }
    }

    /// The plan of a configuration without refusals.
    pub(crate) fn of(config: &Config) -> Plan {
        let routes: Vec<RoutePlan> = config
            .routes()
            .iter()
            .enumerate()
            .map(|(index, r)| {
                let p = r.policy();
                let limits = p.request_header_limits();
                let trusted = tier(p.trusted_tier(), p, false, limits.max_items);
                let public_tier = p.public_tier().map(|t| tier(t, p, true, limits.max_items));
                let upstream = match r.upstream().target() {
                    Some((scheme, authority)) => format!("{scheme}://{authority}"),
                    None => String::new(),
                };
                RoutePlan {
                    index,
                    name: r.name().to_owned(),
                    host: r.host().map(str::to_owned),
                    path: r.path().map(str::to_owned),
                    upstream,
                    trusted: origins(p.origins().entries()),
                    any: p.origins().is_any(),
                    trusted_tier: trusted,
                    public_tier,
                    preflight_status: p.preflight_status().as_u16(),
                    denied_status: p.denied_preflight_status().as_u16(),
                    max_request_header_bytes: limits.max_bytes,
                    max_request_items: limits.max_items,
                }
            })
            .collect();
        let all = config.routes();
        let mut hosts: Vec<Option<String>> = vec![None];
        for r in all {
            if let Some(h) = r.host() {
                if !hosts.iter().any(|x| x.as_deref() == Some(h)) {
                    hosts.push(Some(h.to_owned()));
                }
            }
        }
        let servers = hosts
            .into_iter()
            .map(|host| {
                let mut kept: Vec<usize> = Vec::new();
                let mut shadowed = Vec::new();
                for (i, r) in all.iter().enumerate() {
                    let serves = match (r.host(), &host) {
                        (None, _) => true,
                        (Some(h), Some(x)) => h == x,
                        (Some(_), None) => false,
                    };
                    if !serves {
                        continue;
                    }
                    match kept.iter().find(|&&k| all[k].covers(r)) {
                        Some(&k) => shadowed.push((i, k)),
                        None => kept.push(i),
                    }
                }
                ServerPlan {
                    host,
                    routes: kept,
                    shadowed,
                }
            })
            .collect();
        let named = |credentialed_only: bool| {
            let alts: Vec<String> = all
                .iter()
                .map(Route::policy)
                .filter(|p| !p.origins().is_any())
                .filter(|p| !credentialed_only || p.allows_credentials())
                .flat_map(|p| origins(p.origins().entries()))
                .collect();
            if alts.is_empty() {
                vec![regex::NEVER.to_owned()]
            } else {
                alts
            }
        };
        Plan {
            listen: config.listen(),
            unrouted_trusted: named(false),
            unrouted_credentialed: named(true),
            routes,
            servers,
            route_count: all.len(),
            upstream_timeout_ms: config.limits().upstream_timeout().as_millis(),
            header_read_timeout_ms: config.limits().header_read_timeout().as_millis(),
        }
    }
}

/// The origins a set matches, as alternatives.
fn origins(entries: &[OriginEntry]) -> Vec<String> {
    let alts: Vec<String> = entries.iter().flat_map(regex::entry).collect();
    if alts.is_empty() {
        vec![regex::NEVER.to_owned()]
    } else {
        alts
    }
}

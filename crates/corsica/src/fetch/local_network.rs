//! Local Network Access (LNA, the successor of Private Network Access): Chromium refuses a
//! request from a page on a public address to a local or loopback one unless the user
//! granted the page the permission, refuses it outright from a page that is not a secure
//! context, and refuses any request whose `targetAddressSpace` option is not where the
//! server turned out to be.
//!
//! What the conformance suite confirmed against Chromium 156 (the address spaces set with
//! `--ip-address-space-overrides`, the permissions with `Browser.setPermission`):
//!
//! - The check runs for every hop (the first URL and every redirect target) before anything
//!   is sent to it, preflight included, in every mode (`cors`, `no-cors`), after the
//!   renderer's own refusals (scheme, `same-origin` mode).
//! - A secure page's requests to its own origin are exempt from everything below.
//! - First `targetAddressSpace`: set (`loopback`, `local`, its alias `private`, or `public`)
//!   and not the server's space → `InvalidLocalNetworkAccess`, from any page (an insecure
//!   page's requests to its own origin included), and it stays on the request across
//!   redirects; `unknown` checks nothing.
//! - Then, only from a `public` page to a `local` or `loopback` server: an insecure page →
//!   `InsecureLocalNetwork`; a secure page without the permission →
//!   `LocalNetworkAccessPermissionDenied`. The permission is split: `loopback-network`
//!   covers loopback servers, `local-network` local ones (granting the legacy
//!   `local-network-access` name over CDP allows neither). Headless Chromium answers the
//!   prompt with a denial.
//! - `local` → `loopback`, `loopback` → anything and `public` → `public` are not checked.
//!
//! Not confirmed by a browser (the suite can only bind loopback addresses): which IP
//! ranges Chromium files as `local` without an override. [`AddressSpace::of_host`] follows
//! Chromium's table as read in its source (RFC 1918, link-local, `fc00::/7`, `.local`
//! names); anything else is `public`.
//!
//! ```
//! use corsica::fetch::{simulate, AddressSpace, CorsError, FetchRequest, HttpRequest, HttpResponse, LocalNetwork, NetworkError, Verdict};
//! use corsica::Origin;
//!
//! let page = Origin::parse("https://app.example.com")?;
//! let request = FetchRequest::new(page.clone(), "http://192.168.1.20/status")
//!     .local_network(LocalNetwork::for_page(&page));
//! let mut never = |_: &HttpRequest| -> Result<HttpResponse, NetworkError> { unreachable!() };
//! let outcome = simulate(&request, &mut never, None);
//! let Verdict::Blocked(b) = &outcome.verdict else { panic!() };
//! assert_eq!(b.error, CorsError::LocalNetworkAccessPermissionDenied);
//! assert!(b.message.ends_with("Permission was denied for this request to access the `local` address space."));
//! # Ok::<(), corsica::OriginError>(())
//! ```

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::error::{CorsError, MessageContext, local_network_message};
use super::outcome::Verdict;
use super::request::{FetchRequest, same_origin};
use super::simulation::{BlockContext, Hop, Simulation};
use crate::Origin;

/// Where an address sits, by Chromium's `IPAddressSpace` (most private first).
///
/// ```
/// use corsica::fetch::AddressSpace;
/// assert_eq!("private".parse::<AddressSpace>(), Ok(AddressSpace::Local));
/// assert_eq!(AddressSpace::Loopback.as_str(), "loopback");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AddressSpace {
    /// This device: `127.0.0.0/8`, `::1`, `localhost` and `*.localhost`.
    Loopback,
    /// The local network: private and link-local ranges, `.local` names.
    Local,
    /// Everything else.
    Public,
}

impl AddressSpace {
    /// The name Chromium prints in its console messages and `fetch()` accepts as
    /// `targetAddressSpace`.
    ///
    /// ```
    /// assert_eq!(corsica::fetch::AddressSpace::Public.as_str(), "public");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            AddressSpace::Loopback => "loopback",
            AddressSpace::Local => "local",
            AddressSpace::Public => "public",
        }
    }

    /// The space a host is known to be in without resolving it: IP literals (IPv6 with or
    /// without brackets) and `localhost` names. `None` for any other host name.
    ///
    /// ```
    /// use corsica::fetch::AddressSpace;
    /// assert_eq!(AddressSpace::of_host("127.0.0.1"), Some(AddressSpace::Loopback));
    /// assert_eq!(AddressSpace::of_host("api.localhost"), Some(AddressSpace::Loopback));
    /// assert_eq!(AddressSpace::of_host("10.1.2.3"), Some(AddressSpace::Local));
    /// assert_eq!(AddressSpace::of_host("printer.local"), Some(AddressSpace::Local));
    /// assert_eq!(AddressSpace::of_host("8.8.8.8"), Some(AddressSpace::Public));
    /// assert_eq!(AddressSpace::of_host("api.example.com"), None);
    /// ```
    pub fn of_host(host: &str) -> Option<AddressSpace> {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Some(of_ip(ip));
        }
        if host == "localhost" || host.ends_with(".localhost") {
            Some(AddressSpace::Loopback)
        } else if host.ends_with(".local") {
            Some(AddressSpace::Local)
        } else {
            None
        }
    }
}

fn of_ip(ip: IpAddr) -> AddressSpace {
    match ip {
        IpAddr::V4(v4) => of_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => of_v4(v4),
            None => of_v6(v6),
        },
    }
}

fn of_v4(ip: Ipv4Addr) -> AddressSpace {
    if ip.is_loopback() {
        AddressSpace::Loopback
    } else if ip.is_private() || ip.is_link_local() {
        AddressSpace::Local
    } else {
        AddressSpace::Public
    }
}

fn of_v6(ip: Ipv6Addr) -> AddressSpace {
    let first = ip.segments()[0];
    if ip.is_loopback() {
        AddressSpace::Loopback
    } else if first & 0xfe00 == 0xfc00 || first & 0xffc0 == 0xfe80 {
        AddressSpace::Local
    } else {
        AddressSpace::Public
    }
}

impl fmt::Display for AddressSpace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not an address space `fetch()` checks (`unknown` is valid in
/// `fetch()` but checks nothing: leave the option unset).
///
/// ```
/// assert!("unknown".parse::<corsica::fetch::AddressSpace>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an address space: use loopback, local (or private) or public")]
pub struct UnknownAddressSpace(pub String);

impl std::str::FromStr for AddressSpace {
    type Err = UnknownAddressSpace;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "loopback" => Ok(AddressSpace::Loopback),
            // Blink still accepts PNA's name for `local`.
            "local" | "private" => Ok(AddressSpace::Local),
            "public" => Ok(AddressSpace::Public),
            other => Err(UnknownAddressSpace(other.to_owned())),
        }
    }
}

/// Where the page and the servers are on the network, and what the user allowed: what
/// Chromium's Local Network Access check looks at besides the request.
///
/// ```
/// use corsica::fetch::{AddressSpace, LocalNetwork};
/// let page = corsica::Origin::parse("https://app.example.com")?;
/// let network = LocalNetwork::for_page(&page)
///     .host("nas.internal", AddressSpace::Local)
///     .grant(AddressSpace::Local);
/// assert_eq!(network.page, AddressSpace::Public);
/// assert!(network.secure_context);
/// assert_eq!(network.space_of("http://nas.internal:8080/"), AddressSpace::Local);
/// # Ok::<(), corsica::OriginError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalNetwork {
    /// The page's address space (where its document was loaded from).
    pub page: AddressSpace,
    /// Whether the page is a secure context (`https:`, or a loopback host over `http:`).
    pub secure_context: bool,
    /// The user granted the `loopback-network` permission (requests to this device).
    pub loopback_granted: bool,
    /// The user granted the `local-network` permission (requests to the local network).
    pub local_granted: bool,
    /// Where host names resolve, as `host` or `host:port` (the more specific wins).
    pub hosts: Vec<(String, AddressSpace)>,
}

impl LocalNetwork {
    /// A page at `origin`: its space from its host ([`AddressSpace::of_host`]; `public`
    /// for other names and for `null`), a secure context if `https:`/`wss:` or on a
    /// loopback host, no permission granted (what headless Chromium does with the prompt).
    ///
    /// ```
    /// use corsica::fetch::{AddressSpace, LocalNetwork};
    /// let dev = LocalNetwork::for_page(&corsica::Origin::parse("http://localhost:3000")?);
    /// assert_eq!((dev.page, dev.secure_context), (AddressSpace::Loopback, true));
    /// let site = LocalNetwork::for_page(&corsica::Origin::parse("http://shop.example")?);
    /// assert_eq!((site.page, site.secure_context), (AddressSpace::Public, false));
    /// # Ok::<(), corsica::OriginError>(())
    /// ```
    pub fn for_page(origin: &Origin) -> LocalNetwork {
        let host_space = origin.host().and_then(AddressSpace::of_host);
        LocalNetwork {
            page: host_space.unwrap_or(AddressSpace::Public),
            secure_context: matches!(origin.scheme(), Some("https" | "wss"))
                || host_space == Some(AddressSpace::Loopback),
            loopback_granted: false,
            local_granted: false,
            hosts: Vec::new(),
        }
    }

    /// Sets the page's address space (a page on a public host name served from this
    /// device, say).
    ///
    /// ```
    /// # let n = corsica::fetch::LocalNetwork::for_page(&corsica::Origin::null());
    /// let n = n.page(corsica::fetch::AddressSpace::Public);
    /// ```
    pub fn page(mut self, space: AddressSpace) -> LocalNetwork {
        self.page = space;
        self
    }

    /// Sets whether the page is a secure context.
    ///
    /// ```
    /// # let n = corsica::fetch::LocalNetwork::for_page(&corsica::Origin::null());
    /// let n = n.secure_context(false);
    /// ```
    pub fn secure_context(mut self, secure: bool) -> LocalNetwork {
        self.secure_context = secure;
        self
    }

    /// Grants the permission for `space`: `loopback-network` for
    /// [`AddressSpace::Loopback`], `local-network` for [`AddressSpace::Local`] (nothing for
    /// `public`, which needs none).
    ///
    /// ```
    /// # let n = corsica::fetch::LocalNetwork::for_page(&corsica::Origin::null());
    /// let n = n.grant(corsica::fetch::AddressSpace::Loopback);
    /// assert!(n.loopback_granted && !n.local_granted);
    /// ```
    pub fn grant(mut self, space: AddressSpace) -> LocalNetwork {
        match space {
            AddressSpace::Loopback => self.loopback_granted = true,
            AddressSpace::Local => self.local_granted = true,
            AddressSpace::Public => {}
        }
        self
    }

    /// Says where `host` (or `host:port`) resolves to.
    ///
    /// ```
    /// # let n = corsica::fetch::LocalNetwork::for_page(&corsica::Origin::null());
    /// let n = n.host("router.home:8443", corsica::fetch::AddressSpace::Local);
    /// ```
    pub fn host(mut self, host: impl Into<String>, space: AddressSpace) -> LocalNetwork {
        self.hosts.push((host.into().to_ascii_lowercase(), space));
        self
    }

    /// The address space of a URL's server: a `host:port` entry, else a `host` entry, else
    /// [`AddressSpace::of_host`], else `public`.
    ///
    /// ```
    /// # let n = corsica::fetch::LocalNetwork::for_page(&corsica::Origin::null());
    /// use corsica::fetch::AddressSpace;
    /// assert_eq!(n.space_of("http://[::1]:8080/x"), AddressSpace::Loopback);
    /// assert_eq!(n.space_of("https://api.example.com/"), AddressSpace::Public);
    /// ```
    pub fn space_of(&self, url: &str) -> AddressSpace {
        let Ok(url) = url::Url::parse(url) else {
            return AddressSpace::Public;
        };
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        let authority = match url.port_or_known_default() {
            Some(port) => format!("{host}:{port}"),
            None => host.clone(),
        };
        self.hosts
            .iter()
            .find(|(h, _)| *h == authority)
            .or_else(|| self.hosts.iter().find(|(h, _)| *h == host))
            .map(|(_, s)| *s)
            .or_else(|| AddressSpace::of_host(&host))
            .unwrap_or(AddressSpace::Public)
    }

    /// Whether a request from the page to `target` needs what the page lacks: the kind of
    /// refusal, if any (`targetAddressSpace` aside).
    fn refusal(&self, target: AddressSpace) -> Option<CorsError> {
        let granted = match target {
            AddressSpace::Public => return None,
            AddressSpace::Loopback => self.loopback_granted,
            AddressSpace::Local => self.local_granted,
        };
        if self.page != AddressSpace::Public {
            None
        } else if !self.secure_context {
            Some(CorsError::InsecureLocalNetwork)
        } else if !granted {
            Some(CorsError::LocalNetworkAccessPermissionDenied)
        } else {
            None
        }
    }
}

/// Chromium's Local Network Access refusal of one hop: the kind, the server's space and the
/// `targetAddressSpace` the page asked for. `None` when the request may go.
///
/// Without [`FetchRequest::local_network`], only `targetAddressSpace` is checked (against
/// the space [`LocalNetwork::for_page`] derives from the URL).
pub(super) fn check(
    request: &FetchRequest,
    url: &str,
) -> Option<(CorsError, AddressSpace, Option<AddressSpace>)> {
    if request.target_address_space.is_none() && request.local_network.is_none() {
        return None;
    }
    let derived;
    let network = match &request.local_network {
        Some(n) => n,
        None => {
            derived = LocalNetwork::for_page(&request.origin);
            &derived
        }
    };
    // Chromium exempts a secure page's requests to its own origin, `targetAddressSpace`
    // included (`kAllowedPotentiallyTrustworthySameOrigin`).
    let own_origin = url::Url::parse(url).is_ok_and(|u| same_origin(&u, request.origin.as_str()));
    if own_origin && network.secure_context {
        return None;
    }
    let resource = network.space_of(url);
    if let Some(wanted) = request.target_address_space {
        if wanted != resource {
            return Some((CorsError::InvalidLocalNetworkAccess, resource, Some(wanted)));
        }
    }
    request.local_network.as_ref()?;
    network
        .refusal(resource)
        .map(|kind| (kind, resource, request.target_address_space))
}

impl Simulation<'_, '_> {
    /// The Local Network Access check of a hop, before its preflight or request is sent.
    pub(super) fn local_network_access(&mut self, hop: &Hop, url: &str) -> Option<Verdict> {
        let (kind, resource, wanted) = check(self.request, url)?;
        let initiator = self.request.origin.as_str();
        let cx = BlockContext {
            origin: initiator,
            method: &hop.method,
            actual_method: &hop.method,
            unsafe_headers: &[],
        };
        // No exchange of this hop: the error is not the last (redirect) exchange's.
        let last_error = self.steps.last().map(|s| s.error);
        let mut verdict = self.blocked(kind, String::new(), url, cx);
        if let (Some(step), Some(error)) = (self.steps.last_mut(), last_error) {
            step.error = error;
        }
        if let Verdict::Blocked(b) = &mut verdict {
            b.message = local_network_message(
                kind,
                resource,
                wanted,
                &MessageContext {
                    url,
                    initial_url: &self.request.url,
                    origin: initiator,
                },
            );
        }
        Some(verdict)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(s: &str) -> Origin {
        Origin::parse(s).expect("origin")
    }

    #[test]
    fn spaces_of_hosts() {
        use AddressSpace::*;
        for (host, space) in [
            ("127.0.0.1", Some(Loopback)),
            ("127.8.9.1", Some(Loopback)),
            ("[::1]", Some(Loopback)),
            ("::ffff:127.0.0.1", Some(Loopback)),
            ("LOCALHOST", Some(Loopback)),
            ("a.b.localhost.", Some(Loopback)),
            ("192.168.0.1", Some(Local)),
            ("172.16.0.1", Some(Local)),
            ("172.32.0.1", Some(Public)),
            ("169.254.1.1", Some(Local)),
            ("[fd00::1]", Some(Local)),
            ("[fe80::1]", Some(Local)),
            ("[2001:db8::1]", Some(Public)),
            ("1.1.1.1", Some(Public)),
            ("example.com", None),
        ] {
            assert_eq!(AddressSpace::of_host(host), space, "{host}");
        }
    }

    #[test]
    fn refusals_follow_chromium() {
        use AddressSpace::*;
        let public = LocalNetwork::for_page(&page("https://a.example"));
        assert_eq!(public.refusal(Public), None);
        assert_eq!(
            public.refusal(Loopback),
            Some(CorsError::LocalNetworkAccessPermissionDenied)
        );
        assert_eq!(public.clone().grant(Loopback).refusal(Loopback), None);
        assert_eq!(
            public.clone().grant(Loopback).refusal(Local),
            Some(CorsError::LocalNetworkAccessPermissionDenied)
        );
        assert_eq!(
            public.clone().secure_context(false).refusal(Local),
            Some(CorsError::InsecureLocalNetwork)
        );
        let local = public.page(Local);
        assert_eq!(local.refusal(Loopback), None);
    }

    #[test]
    fn every_hop_is_checked_before_sending() {
        use crate::fetch::{HttpRequest, HttpResponse, NetworkError, simulate};
        let p = page("http://shop.example");
        let mut sent = Vec::new();
        let mut server = |r: &HttpRequest| -> Result<HttpResponse, NetworkError> {
            sent.push(format!("{} {}", r.method, r.url));
            let response = match r.method.as_str() {
                "OPTIONS" => HttpResponse::new(204).header("Access-Control-Allow-Methods", "PUT"),
                _ => HttpResponse::new(307).header("Location", "http://127.0.0.1:9/x"),
            };
            Ok(response.header("Access-Control-Allow-Origin", "*"))
        };
        let r = FetchRequest::new(p.clone(), "http://api.example/")
            .method("PUT")
            .local_network(LocalNetwork::for_page(&p));
        let outcome = simulate(&r, &mut server, None);
        let Verdict::Blocked(b) = &outcome.verdict else {
            panic!("{:?}", outcome.verdict)
        };
        assert_eq!(b.error, CorsError::InsecureLocalNetwork);
        assert_eq!(b.parameter, "");
        assert_eq!(
            b.message,
            "Access to fetch at 'http://127.0.0.1:9/x' (redirected from 'http://api.example/') from origin 'http://shop.example' has been blocked by CORS policy: The request client is not a secure context and the resource is in more-private address space `loopback`."
        );
        // The preflight and the request to the public server, nothing to the loopback one.
        assert_eq!(
            sent,
            ["OPTIONS http://api.example/", "PUT http://api.example/"]
        );
        assert!(outcome.steps.iter().all(|s| s.error.is_none()));
        let wrong =
            FetchRequest::new(p, "http://127.0.0.1:9/x").target_address_space(AddressSpace::Public);
        let outcome = simulate(
            &wrong,
            &mut |_: &HttpRequest| Err(NetworkError("refused".into())),
            None,
        );
        let Verdict::Blocked(b) = &outcome.verdict else {
            panic!("{:?}", outcome.verdict)
        };
        assert!(b.message.ends_with("Request had a target IP address space of `public` yet the resource is in address space `loopback`."));
    }

    #[test]
    fn target_address_space_is_checked_first() {
        let p = page("http://shop.example");
        let r = FetchRequest::new(p.clone(), "http://127.0.0.1:8080/")
            .target_address_space(AddressSpace::Local)
            .local_network(LocalNetwork::for_page(&p));
        assert_eq!(
            check(&r, "http://127.0.0.1:8080/"),
            Some((
                CorsError::InvalidLocalNetworkAccess,
                AddressSpace::Loopback,
                Some(AddressSpace::Local)
            ))
        );
        let plain = FetchRequest::new(p, "http://127.0.0.1:8080/");
        assert_eq!(check(&plain, "http://127.0.0.1:8080/"), None);
        // A secure page's own origin is exempt, an insecure page's is not.
        for (page_url, exempt) in [
            ("http://localhost:3000", true),
            ("http://shop.example", false),
        ] {
            let p = page(page_url);
            let own = FetchRequest::new(p.clone(), format!("{page_url}/x"))
                .target_address_space(AddressSpace::Local)
                .local_network(LocalNetwork::for_page(&p).page(AddressSpace::Public));
            assert_eq!(
                check(&own, &format!("{page_url}/x")).is_none(),
                exempt,
                "{page_url}"
            );
        }
    }
}

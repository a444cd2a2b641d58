//! Which addresses an external file URL may make the backup host fetch: no server-side request
//! forgery through a page's image or file links.
//!
//! A URL from a page is anyone's input. Unless its host is listed in `DOWNLOAD_ALLOW_HOSTS`
//! (`host` for any port, `host:port` for one), it may not reach a loopback, link-local (cloud
//! metadata at 169.254.169.254 included), private, shared (CGNAT), unspecified, multicast,
//! broadcast or reserved address, IPv4-mapped and other IPv4-embedding IPv6 forms included. The
//! check runs on every hop of a redirect chain ([`Guard::check`]: IP literals, and names resolved
//! here), and again at connect time in the resolver the external client uses
//! ([`Guard::resolver`]), so a name that resolves differently the second time (DNS rebinding) is
//! refused too. Behind a proxy (`HTTPS_PROXY`, ...) the proxy resolves the target itself: the
//! check before the request is then the only one. Notion-hosted files are not checked (their URLs
//! come from the API, not from page content). This module decides and explains; it does not
//! download.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// Why a URL was refused, for the warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// `host` or `host:port` as in the URL.
    pub host: String,
    /// `127.0.0.1 is a loopback address`, `localhost resolves to 127.0.0.1, a loopback address`.
    pub why: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.why)
    }
}

/// The allow list and the checks.
#[derive(Debug, Clone, Default)]
pub struct Guard {
    /// Lowercase `host` or `host:port` entries (IPv6 in brackets: `[fd00::1]:8080`).
    allow: Vec<String>,
}

impl Guard {
    pub fn new(allow: &[String]) -> Guard {
        Guard { allow: allow.iter().map(|h| h.trim().to_ascii_lowercase()).filter(|h| !h.is_empty()).collect() }
    }

    /// True when `DOWNLOAD_ALLOW_HOSTS` lists this URL's host (any port) or host and port.
    pub fn allows(&self, url: &Url) -> bool {
        let Some(host) = url.host_str().map(str::to_ascii_lowercase) else { return false };
        let with_port = url.port_or_known_default().map(|p| format!("{host}:{p}"));
        self.allow.iter().any(|a| *a == host || Some(a) == with_port.as_ref())
    }

    /// Check one URL (one hop of a redirect chain) before it is fetched.
    pub async fn check(&self, url: &Url) -> Result<(), Refusal> {
        if self.allows(url) {
            return Ok(());
        }
        let shown = host_and_port(url);
        let refuse = |why: String| Err(Refusal { host: shown.clone(), why });
        match url.host() {
            None => refuse("the URL has no host".into()),
            Some(Host::Ipv4(ip)) => match non_public(IpAddr::V4(ip)) {
                Some(class) => refuse(format!("{ip} is {class} address")),
                None => Ok(()),
            },
            Some(Host::Ipv6(ip)) => match non_public(IpAddr::V6(ip)) {
                Some(class) => refuse(format!("{ip} is {class} address")),
                None => Ok(()),
            },
            Some(Host::Domain(name)) => {
                let port = url.port_or_known_default().unwrap_or(80);
                // A name that does not resolve here fails at connect time (or is the proxy's business).
                let Ok(addrs) = tokio::net::lookup_host((name, port)).await else { return Ok(()) };
                for a in addrs {
                    if let Some(class) = non_public(a.ip()) {
                        return refuse(format!("{name} resolves to {}, {class} address", a.ip()));
                    }
                }
                Ok(())
            }
        }
    }

    /// The DNS resolver for the external client: names not on the allow list (and not a
    /// configured proxy) only ever connect to public addresses.
    pub fn resolver(&self) -> Arc<impl Resolve> {
        let mut exempt: HashSet<String> = self.allow.iter().map(|a| strip_port(a).to_string()).collect();
        exempt.extend(proxy_hosts());
        Arc::new(PublicOnly { exempt })
    }
}

/// `host` or `host:port` (when the URL names a port), lowercase.
pub fn host_and_port(url: &Url) -> String {
    let host = url.host_str().unwrap_or("").to_ascii_lowercase();
    match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host,
    }
}

/// `host` of a `host[:port]` entry (`[::1]:8080` -> `[::1]`, `wiki:81` -> `wiki`).
fn strip_port(entry: &str) -> &str {
    if let Some(end) = entry.strip_prefix('[').and_then(|r| r.find(']')) {
        return &entry[..end + 2];
    }
    entry.rsplit_once(':').map_or(entry, |(h, _)| h)
}

/// Hosts of the proxies reqwest reads from the environment: the resolver must reach them
/// wherever they are.
fn proxy_hosts() -> Vec<String> {
    ["ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .filter_map(|v| {
            let v = v.trim();
            let with_scheme = if v.contains("://") { v.to_string() } else { format!("http://{v}") };
            Url::parse(&with_scheme).ok()?.host_str().map(|h| h.trim_matches(['[', ']']).to_ascii_lowercase())
        })
        .collect()
}

struct PublicOnly {
    exempt: HashSet<String>,
}

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_ascii_lowercase();
        let exempt = self.exempt.contains(&host) || self.exempt.contains(&format!("[{host}]"));
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if exempt {
                return Ok(Box::new(addrs.into_iter()) as Addrs);
            }
            let public: Vec<SocketAddr> = addrs.iter().copied().filter(|a| non_public(a.ip()).is_none()).collect();
            if public.is_empty() {
                let shown = addrs.first().map(|a| a.ip().to_string()).unwrap_or_default();
                let msg = format!(
                    "refused: {host} resolves to {shown}, which is not a public address (list it in DOWNLOAD_ALLOW_HOSTS to allow it)"
                );
                return Err(msg.into());
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

/// The kind of a non-public address ("a loopback", "a private", ...), `None` for a public one.
pub fn non_public(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => non_public_v4(v4),
        IpAddr::V6(v6) => non_public_v6(v6),
    }
}

fn non_public_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, d] = ip.octets();
    Some(match (a, b) {
        (0, _) => "an unspecified",
        (127, _) => "a loopback",
        (10, _) | (172, 16..=31) | (192, 168) => "a private",
        (100, 64..=127) => "a shared (CGNAT)",
        (169, 254) if [c, d] == [169, 254] => "a link-local (cloud metadata)",
        (169, 254) => "a link-local",
        (192, 0) if c == 0 => "a reserved (IETF protocol)",
        (198, 18..=19) => "a reserved (benchmarking)",
        (224..=239, _) => "a multicast",
        (255, 255) if [c, d] == [255, 255] => "the broadcast",
        (240..=255, _) => "a reserved",
        _ => return None,
    })
}

fn non_public_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if ip.is_unspecified() {
        return Some("an unspecified");
    }
    if ip.is_loopback() {
        return Some("a loopback");
    }
    let s = ip.segments();
    // IPv4 inside IPv6: mapped (::ffff:a.b.c.d), compatible (::a.b.c.d), NAT64 (64:ff9b::/96),
    // 6to4 (2002:aabb:ccdd::/48): the IPv4 address is what gets reached.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return non_public_v4(v4);
    }
    if s[..6] == [0; 6] {
        // Deprecated and never routed: refused even when the IPv4 part is public.
        return non_public_v4(embedded(s[6], s[7])).or(Some("an IPv4-compatible"));
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return non_public_v4(embedded(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        return non_public_v4(embedded(s[1], s[2]));
    }
    Some(match s[0] {
        x if x & 0xffc0 == 0xfe80 => "a link-local",
        x if x & 0xffc0 == 0xfec0 => "a site-local",
        x if x & 0xfe00 == 0xfc00 => "a private (unique local)",
        x if x & 0xff00 == 0xff00 => "a multicast",
        _ => return None,
    })
}

fn embedded(hi: u16, lo: u16) -> Ipv4Addr {
    let [a, b] = hi.to_be_bytes();
    let [c, d] = lo.to_be_bytes();
    Ipv4Addr::new(a, b, c, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn every_non_public_range_is_named() {
        for (addr, class) in [
            ("127.0.0.1", "a loopback"),
            ("127.255.1.2", "a loopback"),
            ("0.0.0.0", "an unspecified"),
            ("10.1.2.3", "a private"),
            ("172.16.0.1", "a private"),
            ("172.31.255.255", "a private"),
            ("192.168.1.1", "a private"),
            ("100.64.0.1", "a shared (CGNAT)"),
            ("100.127.255.254", "a shared (CGNAT)"),
            ("169.254.169.254", "a link-local (cloud metadata)"),
            ("169.254.1.1", "a link-local"),
            ("224.0.0.1", "a multicast"),
            ("239.255.255.250", "a multicast"),
            ("255.255.255.255", "the broadcast"),
            ("240.0.0.1", "a reserved"),
            ("::", "an unspecified"),
            ("::1", "a loopback"),
            ("::ffff:127.0.0.1", "a loopback"),
            ("::ffff:169.254.169.254", "a link-local (cloud metadata)"),
            ("::ffff:10.0.0.1", "a private"),
            ("::127.0.0.1", "a loopback"),
            ("64:ff9b::a9fe:a9fe", "a link-local (cloud metadata)"),
            ("2002:7f00:1::1", "a loopback"),
            ("fe80::1", "a link-local"),
            ("febf::1", "a link-local"),
            ("fc00::1", "a private (unique local)"),
            ("fd12:3456::1", "a private (unique local)"),
            ("fec0::1", "a site-local"),
            ("ff02::1", "a multicast"),
        ] {
            assert_eq!(non_public(ip(addr)), Some(class), "{addr}");
        }
        for addr in [
            "1.1.1.1",
            "8.8.8.8",
            "172.15.255.255",
            "172.32.0.1",
            "100.63.255.255",
            "100.128.0.1",
            "169.253.1.1",
            "192.169.0.1",
            "223.255.255.255",
            "2606:4700::1111",
            "2a00:1450::1",
            "::ffff:93.184.216.34",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert_eq!(non_public(ip(addr)), None, "{addr}");
        }
    }

    #[tokio::test]
    async fn literals_names_and_the_allow_list() {
        let g = Guard::new(&["wiki.intranet".into(), "127.0.0.1:8080".into(), "[::1]".into()]);
        let check = |u: &str| {
            let g = g.clone();
            let u = Url::parse(u).unwrap();
            async move { g.check(&u).await }
        };
        let e = check("http://127.0.0.1:9000/x.png?sig=1").await.unwrap_err();
        assert_eq!(e, Refusal { host: "127.0.0.1:9000".into(), why: "127.0.0.1 is a loopback address".into() });
        assert!(check("http://127.0.0.1:8080/x.png").await.is_ok(), "listed with its port");
        assert!(check("http://[::1]:1234/x.png").await.is_ok(), "listed without a port: any port");
        // The URL parser normalises other spellings of 127.0.0.1 before the check sees them.
        for alt in ["http://2130706433/", "http://0x7f.1/", "http://127.1/", "http://[::ffff:7f00:1]/"] {
            assert!(check(alt).await.is_err(), "{alt}");
        }
        let e = check("http://169.254.169.254/latest/meta-data/").await.unwrap_err();
        assert_eq!(e.why, "169.254.169.254 is a link-local (cloud metadata) address");
        let e = check("http://localhost:3000/a.png").await.unwrap_err();
        assert!(e.why.starts_with("localhost resolves to ") && e.why.contains("loopback"), "{}", e.why);
        assert_eq!(e.host, "localhost:3000");
        assert!(check("http://93.184.216.34/a.png").await.is_ok());
        // An allow-listed name is not resolved at all.
        assert!(check("http://wiki.intranet/a.png").await.is_ok());
    }

    #[tokio::test]
    async fn the_resolver_refuses_non_public_answers_unless_exempt() {
        let g = Guard::new(&["localhost:4000".into()]);
        let r = g.resolver();
        let allowed: Vec<SocketAddr> = r.resolve("localhost".parse().unwrap()).await.unwrap().collect();
        assert!(!allowed.is_empty());
        let r = Guard::new(&[]).resolver();
        let e = r.resolve("localhost".parse().unwrap()).await.err().expect("refused").to_string();
        assert!(e.contains("not a public address") && e.contains("DOWNLOAD_ALLOW_HOSTS"), "{e}");
    }

    #[test]
    fn ports_are_stripped_from_entries() {
        assert_eq!(strip_port("wiki:81"), "wiki");
        assert_eq!(strip_port("wiki"), "wiki");
        assert_eq!(strip_port("[::1]:8080"), "[::1]");
        assert_eq!(strip_port("[::1]"), "[::1]");
    }
}

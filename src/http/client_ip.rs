//! The client's address: the TCP peer, or, when the peer is one of `BOOKSTORE_TRUSTED_PROXIES`,
//! the right-most `X-Forwarded-For` entry that is not a trusted proxy (the left part of the header
//! is whatever the client wrote, so it is never believed). Networks are `ipnet`'s.

use std::net::IpAddr;

use http::HeaderMap;
use ipnet::IpNet;

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

/// A CIDR (`10.0.0.0/8`, `::1/128`) or a bare address (a /32 or /128); IPv4-mapped IPv6
/// addresses count as IPv4.
fn parse_net(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    let bad = || format!("{s:?} is not an IP address or CIDR");
    match s.split_once('/') {
        Some((addr, prefix)) => {
            let addr: IpAddr = addr.parse().map_err(|_| bad())?;
            let prefix: u8 = prefix
                .parse()
                .map_err(|_| format!("{s:?} has a bad prefix length"))?;
            IpNet::new(addr.to_canonical(), prefix)
                .map_err(|_| format!("{s:?} has a bad prefix length"))
        }
        None => {
            let addr: IpAddr = s.parse().map_err(|_| bad())?;
            Ok(IpNet::from(addr.to_canonical()))
        }
    }
}

impl TrustedProxies {
    /// The proxies of `BOOKSTORE_TRUSTED_PROXIES`; a bad entry is an error naming it.
    pub fn parse(entries: &[String]) -> anyhow::Result<TrustedProxies> {
        entries
            .iter()
            .map(|e| parse_net(e).map_err(|m| anyhow::anyhow!("BOOKSTORE_TRUSTED_PROXIES: {m}")))
            .collect::<anyhow::Result<Vec<_>>>()
            .map(|nets| TrustedProxies(IpNet::aggregate(&nets)))
    }

    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|n| n.contains(&ip))
    }

    /// The client behind `peer`: `peer` itself unless it is trusted; otherwise the right-most
    /// `X-Forwarded-For` hop that is not trusted (or the left-most hop, when all are trusted).
    /// A malformed hop stops the walk at the last good address.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.is_trusted(peer) {
            return peer;
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            match parse_hop(hop) {
                Some(ip) => {
                    client = ip;
                    if !self.is_trusted(ip) {
                        break;
                    }
                }
                None => break,
            }
        }
        client
    }
}

/// One `X-Forwarded-For` entry: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` or `[2001:db8::1]:80`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Ok(sa) = hop.parse::<std::net::SocketAddr>() {
        return Some(sa.ip().to_canonical());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn cidrs_match() {
        let n = parse_net("10.0.0.0/8").unwrap();
        assert!(n.contains(&"10.1.2.3".parse::<IpAddr>().unwrap().to_canonical()));
        assert!(!n.contains(&"11.0.0.1".parse::<IpAddr>().unwrap().to_canonical()));
        assert!(n.contains(&"::ffff:10.0.0.1".parse::<IpAddr>().unwrap().to_canonical()));
        let n = parse_net("2001:db8::/32").unwrap();
        assert!(n.contains(&"2001:db8:1::1".parse::<IpAddr>().unwrap().to_canonical()));
        assert!(!n.contains(&"2001:db9::1".parse::<IpAddr>().unwrap().to_canonical()));
        let all = parse_net("0.0.0.0/0").unwrap();
        assert!(all.contains(&"192.0.2.1".parse::<IpAddr>().unwrap().to_canonical()));
        let one = parse_net("127.0.0.1").unwrap();
        assert!(one.contains(&"127.0.0.1".parse::<IpAddr>().unwrap().to_canonical()));
        assert!(!one.contains(&"127.0.0.2".parse::<IpAddr>().unwrap().to_canonical()));
        for bad in ["10.0.0.0/33", "nope", "::1/129", "1.2.3.4/x"] {
            assert!(parse_net(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let p = proxies(&["127.0.0.1", "10.0.0.0/8"]);
        let peer: IpAddr = "127.0.0.1".parse().unwrap();
        let stranger: IpAddr = "198.51.100.7".parse().unwrap();
        // Untrusted peer: its header is ignored.
        assert_eq!(p.client_ip(stranger, &xff(&["203.0.113.9"])), stranger);
        // Trusted peer: the right-most untrusted hop, whatever the client put on the left.
        assert_eq!(
            p.client_ip(peer, &xff(&["1.1.1.1, 203.0.113.9, 10.0.0.5"])),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        // Several headers count as one list.
        assert_eq!(
            p.client_ip(peer, &xff(&["1.1.1.1", "203.0.113.9:4711"])),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        // No header: the proxy itself.
        assert_eq!(p.client_ip(peer, &HeaderMap::new()), peer);
        // Garbage stops the walk at the last good hop.
        assert_eq!(
            p.client_ip(peer, &xff(&["203.0.113.9, garbage"])),
            peer,
            "a malformed right-most hop is not skipped"
        );
        assert_eq!(
            p.client_ip(peer, &xff(&["[2001:db8::1]:80"])),
            "2001:db8::1".parse::<IpAddr>().unwrap()
        );
    }
}

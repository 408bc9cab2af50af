//! An optional allowlist of source networks, checked before any other work.
//!
//! Stripe publishes the addresses its webhooks come from. The signature is
//! the authentication; the allowlist is defence in depth and is off unless
//! configured.

use std::net::IpAddr;

/// One network: an address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Network {
    address: IpAddr,
    prefix_len: u8,
}

impl Network {
    fn contains(&self, ip: IpAddr) -> bool {
        match (self.address, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix_len))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix_len))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// Maps an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) to IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// A set of allowed networks; the empty set allows every source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceAllowlist {
    networks: Vec<Network>,
}

/// An allowlist item that is not an address or a CIDR block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{item:?} is not an IP address or CIDR block")]
pub struct AllowlistError {
    item: String,
}

impl SourceAllowlist {
    /// Parses comma-separated addresses and CIDR blocks; empty items are skipped.
    ///
    /// # Errors
    ///
    /// Returns [`AllowlistError`] naming the first invalid item.
    pub fn parse(text: &str) -> Result<Self, AllowlistError> {
        let mut networks = Vec::new();
        for item in text
            .split([',', '\n'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let invalid = || AllowlistError {
                item: item.to_owned(),
            };
            let (address, prefix) = match item.split_once('/') {
                Some((address, prefix)) => (address, Some(prefix)),
                None => (item, None),
            };
            let address = canonical(address.parse::<IpAddr>().map_err(|_| invalid())?);
            let max_prefix = if address.is_ipv4() { 32 } else { 128 };
            let prefix_len = match prefix {
                Some(prefix) => prefix.parse::<u8>().map_err(|_| invalid())?,
                None => max_prefix,
            };
            if prefix_len > max_prefix {
                return Err(invalid());
            }
            networks.push(Network {
                address,
                prefix_len,
            });
        }
        Ok(Self { networks })
    }

    /// Returns whether the list is off (no networks configured).
    pub fn is_empty(&self) -> bool {
        self.networks.is_empty()
    }

    /// Returns whether `ip` may call. An empty list allows everything; an
    /// unknown source is allowed only when the list is empty.
    pub fn allows(&self, ip: Option<IpAddr>) -> bool {
        if self.networks.is_empty() {
            return true;
        }
        ip.is_some_and(|ip| self.networks.iter().any(|net| net.contains(ip)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn empty_list_allows_all() {
        let list = SourceAllowlist::parse(" , ").unwrap();
        assert!(list.allows(ip("203.0.113.9")));
        assert!(list.allows(None));
    }

    #[test]
    fn single_address_matches_exactly() {
        let list = SourceAllowlist::parse("3.18.12.63").unwrap();
        assert!(list.allows(ip("3.18.12.63")));
        assert!(!list.allows(ip("3.18.12.64")));
        assert!(!list.allows(None));
    }

    #[test]
    fn cidr_block_matches_range() {
        let list = SourceAllowlist::parse("10.1.0.0/16, 2001:db8::/32").unwrap();
        assert!(list.allows(ip("10.1.255.1")));
        assert!(!list.allows(ip("10.2.0.1")));
        assert!(list.allows(ip("2001:db8:1::5")));
        assert!(!list.allows(ip("2001:db9::5")));
    }

    #[test]
    fn mapped_ipv4_matches_ipv4_block() {
        let list = SourceAllowlist::parse("192.0.2.0/24").unwrap();
        assert!(list.allows(ip("::ffff:192.0.2.7")));
    }

    #[test]
    fn zero_prefix_matches_family() {
        let list = SourceAllowlist::parse("0.0.0.0/0").unwrap();
        assert!(list.allows(ip("198.51.100.1")));
        assert!(!list.allows(ip("2001:db8::1")));
    }

    #[test]
    fn invalid_items_rejected() {
        for item in [
            "3.18.12",
            "10.0.0.0/33",
            "::/129",
            "host.example",
            "1.2.3.4/x",
        ] {
            assert!(SourceAllowlist::parse(item).is_err(), "item {item}");
        }
    }
}

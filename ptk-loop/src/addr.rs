//! Numeric host parsing: the layer resolves no names (see the crate docs).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::error::{Error, Result};

/// `host:port` as a socket address. `""` is `0.0.0.0` (bind to every interface),
/// `"localhost"` is `127.0.0.1`; anything else must be a numeric IPv4 or IPv6 address.
///
/// # Errors
///
/// [`Error::InvalidParam`] for a name or malformed address.
pub(crate) fn parse(host: &str, port: u16) -> Result<SocketAddr> {
    let ip = match host {
        "" => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
        _ => host.parse::<IpAddr>().map_err(|_| Error::InvalidParam)?,
    };
    Ok(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_hosts_parse_and_names_are_invalid() {
        assert_eq!(parse("", 7).unwrap(), "0.0.0.0:7".parse().unwrap());
        assert_eq!(
            parse("localhost", 7).unwrap(),
            "127.0.0.1:7".parse().unwrap()
        );
        assert_eq!(parse("::1", 7).unwrap(), "[::1]:7".parse().unwrap());
        assert_eq!(parse("example.com", 7), Err(Error::InvalidParam));
        assert_eq!(parse("1.2.3", 7), Err(Error::InvalidParam));
    }
}

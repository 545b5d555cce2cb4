//! Node configuration: programmatic settings first, then the environment variables of the product
//! sheet, then defaults.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `VERTX_CLUSTER_HOST` | `127.0.0.1` | address the node binds to |
//! | `VERTX_CLUSTER_PORT` | `0` (any free port) | port the node binds to |
//! | `VERTX_CLUSTER_TIMEOUT` | `20000` | ms of silence after which a connection (and its node) is dropped |
//! | `VERTX_CLUSTER_PING_INTERVAL` | `20000` | ms between keepalive pings on an idle connection |
//! | `VERTX_CLUSTER_SECRET` | none | the cluster secret members authenticate with (16 bytes or more) |
//!
//! A malformed value is an [`Error::Config`] naming the variable; it is never silently replaced
//! by the default.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::wire::DEFAULT_MAX_FRAME_SIZE;

pub const ENV_HOST: &str = "VERTX_CLUSTER_HOST";
pub const ENV_PORT: &str = "VERTX_CLUSTER_PORT";
pub const ENV_TIMEOUT: &str = "VERTX_CLUSTER_TIMEOUT";
pub const ENV_PING_INTERVAL: &str = "VERTX_CLUSTER_PING_INTERVAL";
pub const ENV_SECRET: &str = "VERTX_CLUSTER_SECRET";

/// Everything a node needs to know about itself.
#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    /// The raft id of this node; 0 until one is assigned.
    pub node_id: u64,
    /// Bind host.
    pub host: String,
    /// Bind port; 0 picks a free one.
    pub port: u16,
    /// The `host:port` other nodes reach this one at, when it differs from `host:port`.
    pub address: Option<String>,
    /// Silence after which a connection is dropped and its node considered gone.
    pub timeout: Duration,
    /// Interval between keepalive pings.
    pub ping_interval: Duration,
    /// Largest frame accepted or sent.
    pub max_frame_size: usize,
    /// The cluster secret (never printed by `Debug`).
    pub secret: Option<Vec<u8>>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("node_id", &self.node_id)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("address", &self.address)
            .field("timeout", &self.timeout)
            .field("ping_interval", &self.ping_interval)
            .field("max_frame_size", &self.max_frame_size)
            .field("secret", &self.secret.as_ref().map(|_| ".."))
            .finish()
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            node_id: 0,
            host: "127.0.0.1".to_owned(),
            port: 0,
            address: None,
            timeout: Duration::from_millis(20_000),
            ping_interval: Duration::from_millis(20_000),
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            secret: None,
        }
    }
}

impl Config {
    /// Defaults overridden by the process environment.
    pub fn from_env() -> Result<Config> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Defaults overridden by whatever `lookup` returns for each variable name.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config> {
        let mut config = Config::default();
        if let Some(host) = lookup(ENV_HOST) {
            if host.trim().is_empty() {
                return Err(Error::Config {
                    variable: ENV_HOST,
                    value: host,
                    reason: "expected a host name or IP address",
                });
            }
            config.host = host.trim().to_owned();
        }
        if let Some(port) = lookup(ENV_PORT) {
            config.port = port.trim().parse().map_err(|_| Error::Config {
                variable: ENV_PORT,
                value: port.clone(),
                reason: "expected a port number from 0 to 65535",
            })?;
        }
        if let Some(ms) = lookup(ENV_TIMEOUT) {
            config.timeout = parse_millis(ENV_TIMEOUT, ms)?;
        }
        if let Some(ms) = lookup(ENV_PING_INTERVAL) {
            config.ping_interval = parse_millis(ENV_PING_INTERVAL, ms)?;
        }
        if let Some(secret) = lookup(ENV_SECRET) {
            if secret.trim().is_empty() {
                return Err(Error::Config {
                    variable: ENV_SECRET,
                    value: String::new(),
                    reason: "expected the cluster secret, not an empty value",
                });
            }
            config.secret = Some(secret.trim().as_bytes().to_vec());
        }
        Ok(config)
    }

    /// The `host:port` this node is reached at.
    pub fn advertised_address(&self) -> String {
        self.address
            .clone()
            .unwrap_or_else(|| format!("{}:{}", self.host, self.port))
    }
}

fn parse_millis(variable: &'static str, value: String) -> Result<Duration> {
    match value.trim().parse::<u64>() {
        Ok(ms) if ms > 0 => Ok(Duration::from_millis(ms)),
        _ => Err(Error::Config {
            variable,
            value,
            reason: "expected a positive number of milliseconds",
        }),
    }
}

/// Checks that `address` is `host:port` (IPv6 hosts in brackets) and returns its parts.
pub fn parse_address(address: &str) -> Result<(String, u16)> {
    let invalid = || Error::InvalidAddress(address.to_owned());
    let (host, port) = address.rsplit_once(':').ok_or_else(invalid)?;
    let port = port.parse::<u16>().map_err(|_| invalid())?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(invalid());
    }
    Ok((host.to_owned(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn defaults_are_the_sheets() {
        let c = Config::from_lookup(env(&[])).unwrap();
        assert_eq!(c.host, "127.0.0.1");
        assert_eq!(c.port, 0);
        assert_eq!(c.timeout, Duration::from_millis(20_000));
        assert_eq!(c.ping_interval, Duration::from_millis(20_000));
        assert_eq!(c.advertised_address(), "127.0.0.1:0");
    }

    #[test]
    fn variables_override_the_defaults() {
        let c = Config::from_lookup(env(&[
            (ENV_HOST, "10.1.2.3"),
            (ENV_PORT, "5701"),
            (ENV_TIMEOUT, "2000"),
            (ENV_PING_INTERVAL, "500"),
        ]))
        .unwrap();
        assert_eq!(c.advertised_address(), "10.1.2.3:5701");
        assert_eq!(c.timeout, Duration::from_millis(2000));
        assert_eq!(c.ping_interval, Duration::from_millis(500));
    }

    #[test]
    fn a_malformed_value_names_its_variable() {
        for (var, value) in [
            (ENV_PORT, "70000"),
            (ENV_PORT, "http"),
            (ENV_TIMEOUT, "-1"),
            (ENV_TIMEOUT, "0"),
            (ENV_PING_INTERVAL, "20s"),
            (ENV_HOST, " "),
        ] {
            let err = Config::from_lookup(env(&[(var, value)])).unwrap_err();
            assert!(err.to_string().contains(var), "{err} should name {var}");
        }
    }

    #[test]
    fn addresses_must_be_host_and_port() {
        assert_eq!(
            parse_address("192.168.1.100:8080").unwrap(),
            ("192.168.1.100".into(), 8080)
        );
        assert_eq!(parse_address("[::1]:9").unwrap(), ("::1".into(), 9));
        assert_eq!(parse_address("node-1.cluster.local:0").unwrap().1, 0);
        for bad in ["", "host", ":80", "host:", "host:99999", "a b:1"] {
            assert!(parse_address(bad).is_err(), "{bad:?} accepted");
        }
    }
}

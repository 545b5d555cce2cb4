//! The address a node bound to a wildcard IP (`0.0.0.0`, `::`) advertises when none is
//! configured: the one address of this host the others can route to. Loopback and IPv6
//! link-local addresses are not routable from another host; interfaces that are down do not
//! count. A host with none, or with several (a Docker bridge beside the real interface, two
//! networks), cannot choose for the operator: the error lists the candidates and names the
//! setting that picks one.

use std::net::IpAddr;

use crate::error::{Error, Result};

/// The one routable address of this host in the family of `bound` (IPv6 for `::`).
pub(crate) fn routable_address(ipv6: bool) -> Result<IpAddr> {
    let mut candidates = interface_addresses()
        .map_err(|e| Error::io("listing this host's network interfaces", e))?
        .into_iter()
        .filter(|ip| ip.is_ipv6() == ipv6 && is_routable(ip))
        .collect::<Vec<_>>();
    candidates.sort();
    candidates.dedup();
    match candidates.as_slice() {
        [one] => Ok(*one),
        [] => Err(Error::Invalid(format!(
            "the node binds a wildcard address but this host has no routable {} address to \
             advertise: set the public host (vertx.bop.publicHost, VERTX_CLUSTER_PUBLIC_HOST, \
             NodeOptions::public_host) to the address the other members reach it at",
            if ipv6 { "IPv6" } else { "IPv4" }
        ))),
        several => Err(Error::Invalid(format!(
            "the node binds a wildcard address and this host has several routable addresses \
             ({}): set the public host (vertx.bop.publicHost, VERTX_CLUSTER_PUBLIC_HOST, \
             NodeOptions::public_host) to the one the other members reach it at",
            several
                .iter()
                .map(IpAddr::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// Not loopback, not unspecified, not IPv6 link-local (fe80::/10): another host can reach it.
fn is_routable(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => !v4.is_loopback() && !v4.is_unspecified() && !v4.is_link_local(),
        IpAddr::V6(v6) => {
            !v6.is_loopback() && !v6.is_unspecified() && (v6.segments()[0] & 0xffc0) != 0xfe80
        }
    }
}

/// The addresses of the interfaces that are up, in the order the kernel lists them.
#[cfg(unix)]
fn interface_addresses() -> std::io::Result<Vec<IpAddr>> {
    use std::net::{Ipv4Addr, Ipv6Addr};

    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list it allocated, freed below with freeifaddrs.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut out = Vec::new();
    let mut cursor = head;
    while !cursor.is_null() {
        // SAFETY: `cursor` walks the list getifaddrs returned, which stays valid until freed.
        let entry = unsafe { &*cursor };
        cursor = entry.ifa_next;
        let up = entry.ifa_flags & (libc::IFF_UP as libc::c_uint) != 0;
        if !up || entry.ifa_addr.is_null() {
            continue;
        }
        // SAFETY: a non-null ifa_addr points at a sockaddr whose family says its real type.
        let family = i32::from(unsafe { (*entry.ifa_addr).sa_family });
        if family == libc::AF_INET {
            // SAFETY: AF_INET: the sockaddr is a sockaddr_in.
            let v4 = unsafe { &*(entry.ifa_addr as *const libc::sockaddr_in) };
            out.push(IpAddr::V4(Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr))));
        } else if family == libc::AF_INET6 {
            // SAFETY: AF_INET6: the sockaddr is a sockaddr_in6.
            let v6 = unsafe { &*(entry.ifa_addr as *const libc::sockaddr_in6) };
            out.push(IpAddr::V6(Ipv6Addr::from(v6.sin6_addr.s6_addr)));
        }
    }
    // SAFETY: `head` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    Ok(out)
}

#[cfg(not(unix))]
fn interface_addresses() -> std::io::Result<Vec<IpAddr>> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "listing interfaces is implemented on Unix only",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_and_link_local_addresses_are_not_routable() {
        for ip in [
            "127.0.0.1",
            "0.0.0.0",
            "169.254.1.1",
            "::1",
            "::",
            "fe80::1",
        ] {
            assert!(!is_routable(&ip.parse().unwrap()), "{ip}");
        }
        for ip in ["10.0.0.5", "192.168.1.2", "2001:db8::1", "fd00::1"] {
            assert!(is_routable(&ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn this_hosts_interfaces_include_loopback() {
        let all = interface_addresses().unwrap();
        assert!(all.iter().any(IpAddr::is_loopback), "{all:?}");
    }

    #[test]
    fn the_answer_is_one_routable_address_or_an_error_naming_the_setting() {
        match routable_address(false) {
            Ok(ip) => assert!(is_routable(&ip) && ip.is_ipv4(), "{ip}"),
            Err(e) => assert!(e.to_string().contains("vertx.bop.publicHost"), "{e}"),
        }
    }
}

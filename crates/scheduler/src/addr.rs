//! Loopback addresses for tasks: each task gets its own address in 127.0.0.0/8, like
//! the ENI each Fargate task gets, so every task can listen on the service's port.
//!
//! Known limit: Linux routes all of 127.0.0.0/8 to loopback; macOS only 127.0.0.1
//! unless aliases are added.

use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};
use std::sync::Mutex;

/// Hands out task addresses, never the same one twice in a row, skipping addresses
/// whose port is already taken (by another albless, or anything else).
pub struct AddressPool {
    next: Mutex<u32>,
    base: u8,
}

impl Default for AddressPool {
    fn default() -> Self {
        Self::new()
    }
}

impl AddressPool {
    /// A pool over 127.B.0.2 – 127.B.255.254 with B chosen at random in 16..=239, so
    /// that several stacks on one machine rarely meet.
    pub fn new() -> AddressPool {
        AddressPool {
            next: Mutex::new(0),
            base: 16 + (rand::random::<u8>() % 224),
        }
    }

    /// The next free address for a task listening on `port`.
    pub fn allocate(&self, port: u16) -> Option<Ipv4Addr> {
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        for _ in 0..1024 {
            let n = *next % (256 * 253);
            *next = next.wrapping_add(1);
            let ip = Ipv4Addr::new(127, self.base, (n / 253) as u8, (n % 253) as u8 + 2);
            // A probe bind tells whether something already listens there.
            if TcpListener::bind(SocketAddrV4::new(ip, port)).is_ok() {
                return Some(ip);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_taken_addresses() {
        let pool = AddressPool::new();
        let first = pool.allocate(0).unwrap();
        let held = TcpListener::bind((first, 0)).unwrap();
        let port = held.local_addr().unwrap().port();
        // Force the pool back to the same address: a fresh pool with the same base.
        let again = AddressPool {
            next: Mutex::new(0),
            base: pool.base,
        };
        let second = again.allocate(port).unwrap();
        assert_ne!(first, second);
        assert!(second.is_loopback());
    }
}

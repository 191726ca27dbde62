//! Client connection slots: at most `max_connections` connections at once, at most
//! `max_connections_per_client` from one client address, and, when every slot is taken,
//! room made for a newcomer by closing the oldest connection that has not sent a complete
//! request head yet (as nginx reclaims its idle connections when it runs out).
//!
//! Sockets that connect and never send a byte, reopened as soon as they are closed, can
//! then no longer keep every slot busy: a client that sends its request head within
//! moments of connecting is out of reach of eviction before the attacker's sockets are.
//! A connection is never closed for a newcomer once its first request head has arrived:
//! no request is ever lost to make room.
//!
//! The table is one mutex held for a few map operations at a connection's start, at its
//! first request and at its end; requests after the first cost one atomic load.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

/// The connection table of one client listener.
pub(crate) struct Slots {
    /// Most connections at once (the `max_connections` in force at start, lowered to what
    /// the open-file limit allows).
    capacity: usize,
    table: Mutex<Table>,
    /// Woken when a slot frees or a connection becomes evictable.
    room: Notify,
}

#[derive(Default)]
struct Table {
    /// Connections open (evicted ones count until their task has closed them).
    open: usize,
    /// Open connections by client address.
    per_client: HashMap<Client, usize>,
    /// Connections without a complete request head yet, oldest first, with the signal
    /// that closes each.
    waiting: BTreeMap<u64, Arc<Notify>>,
    /// The next connection's number (accept order).
    next: u64,
}

/// A client address as the per-client cap counts it: an IPv4 address, or the /64
/// network of an IPv6 one (an IPv4-mapped IPv6 address is its IPv4 address).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Client {
    V4(u32),
    V6(u64),
}

impl Client {
    fn of(ip: IpAddr) -> Client {
        match ip {
            IpAddr::V4(v4) => Client::V4(u32::from(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Client::V4(u32::from(v4)),
                None => Client::V6((u128::from(v6) >> 64) as u64),
            },
        }
    }
}

/// Why a connection was not given a slot.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Its client address already holds `max_connections_per_client` connections.
    PerClient,
    /// Every slot is taken by a connection with a request: wait for [`Slots::room`].
    Full,
}

/// What [`Slots::admit`] did to make room.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Admitted {
    /// A slot was free.
    Free,
    /// The oldest connection without a request head was told to close.
    Evicted,
}

impl Slots {
    /// A table of `capacity` slots.
    pub(crate) fn new(capacity: usize) -> Arc<Slots> {
        Arc::new(Slots {
            capacity: capacity.max(1),
            table: Mutex::new(Table::default()),
            room: Notify::new(),
        })
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        // A panic while the lock is held cannot leave the counts half-updated (each
        // update is a few infallible map operations), so a poisoned lock is still sound.
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until a connection could be admitted: a slot is free, or some connection has
    /// not sent a request head yet and can be closed for a newcomer.
    pub(crate) async fn room(&self) {
        loop {
            let notified = self.room.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let t = self.table();
                if t.open < self.capacity || !t.waiting.is_empty() {
                    return;
                }
            }
            notified.await;
        }
    }

    /// Gives a slot to a connection from `ip`, evicting the oldest connection without a
    /// request head when every slot is taken. `per_client` is the cap per client
    /// address (`0`: none).
    pub(crate) fn admit(
        self: &Arc<Self>,
        ip: IpAddr,
        per_client: usize,
    ) -> Result<(Slot, Admitted), Refused> {
        let client = Client::of(ip);
        let mut t = self.table();
        let held = t.per_client.get(&client).copied().unwrap_or(0);
        if per_client != 0 && held >= per_client {
            return Err(Refused::PerClient);
        }
        let admitted = if t.open < self.capacity {
            Admitted::Free
        } else {
            match t.waiting.pop_first() {
                Some((_, evict)) => {
                    evict.notify_one();
                    Admitted::Evicted
                }
                None => return Err(Refused::Full),
            }
        };
        let id = t.next;
        t.next += 1;
        t.open += 1;
        *t.per_client.entry(client).or_insert(0) += 1;
        let evict = Arc::new(Notify::new());
        t.waiting.insert(id, evict.clone());
        drop(t);
        // A new connection without a request is itself evictable: someone waiting in
        // `room` may go on.
        self.room.notify_one();
        Ok((
            Slot {
                slots: self.clone(),
                id,
                client,
                evict,
                requested: Arc::new(AtomicBool::new(false)),
            },
            admitted,
        ))
    }
}

/// One connection's slot, given back when dropped.
pub(crate) struct Slot {
    slots: Arc<Slots>,
    id: u64,
    client: Client,
    evict: Arc<Notify>,
    requested: Arc<AtomicBool>,
}

impl Slot {
    /// Resolves when the connection is told to close to make room for a newcomer.
    pub(crate) fn evicted(&self) -> impl std::future::Future<Output = ()> + use<> {
        let evict = self.evict.clone();
        async move { evict.notified().await }
    }

    /// The handle the connection's service calls at every request head.
    pub(crate) fn requests(&self) -> Requests {
        Requests {
            slots: self.slots.clone(),
            id: self.id,
            requested: self.requested.clone(),
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut t = self.slots.table();
        t.open -= 1;
        t.waiting.remove(&self.id);
        if let Some(n) = t.per_client.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                t.per_client.remove(&self.client);
            }
        }
        drop(t);
        self.slots.room.notify_one();
    }
}

/// Marks a connection's first complete request head: from then on it is never evicted.
#[derive(Clone)]
pub(crate) struct Requests {
    slots: Arc<Slots>,
    id: u64,
    requested: Arc<AtomicBool>,
}

impl Requests {
    /// Called at every request head; returns `true` at the connection's first.
    pub(crate) fn arrived(&self) -> bool {
        if self.requested.load(Ordering::Relaxed) {
            return false;
        }
        self.requested.store(true, Ordering::Relaxed);
        // Had the connection been evicted an instant before, its task is closing it and
        // this request goes with it: the client sees its new connection closed, as when
        // a server closes an idle connection.
        self.slots.table().waiting.remove(&self.id);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv6_clients_are_their_slash_64_and_mapped_ipv4_is_ipv4() {
        assert_eq!(
            Client::of(ip("2001:db8:1:2::1")),
            Client::of(ip("2001:db8:1:2:ffff::9"))
        );
        assert_ne!(
            Client::of(ip("2001:db8:1:2::1")),
            Client::of(ip("2001:db8:1:3::1"))
        );
        assert_eq!(
            Client::of(IpAddr::V6(Ipv6Addr::from(0xffff_c000_0201_u128))),
            Client::of(ip("192.0.2.1"))
        );
    }

    #[tokio::test]
    async fn a_full_table_evicts_the_oldest_connection_without_a_request() {
        let slots = Slots::new(2);
        let (a, _) = slots.admit(ip("10.0.0.1"), 0).unwrap();
        let (b, _) = slots.admit(ip("10.0.0.2"), 0).unwrap();
        // `a` has a request in flight; `b` is silent.
        assert!(a.requests().arrived());
        assert!(!a.requests().arrived(), "only the first counts");
        let b_evicted = b.evicted();
        let (c, how) = slots.admit(ip("10.0.0.3"), 0).unwrap();
        assert_eq!(how, Admitted::Evicted);
        tokio::time::timeout(std::time::Duration::from_secs(1), b_evicted)
            .await
            .expect("b is told to close");
        drop(b);
        // `a` has a request and `c` is evictable.
        let (_d, how) = slots.admit(ip("10.0.0.4"), 0).unwrap();
        assert_eq!(how, Admitted::Evicted);
        drop(c);
        assert_eq!(slots.table().waiting.len(), 1, "only `_d` is evictable");
    }

    #[tokio::test]
    async fn a_table_of_requests_refuses_until_one_ends() {
        let slots = Slots::new(1);
        let (a, _) = slots.admit(ip("10.0.0.1"), 0).unwrap();
        a.requests().arrived();
        assert_eq!(slots.admit(ip("10.0.0.2"), 0).err(), Some(Refused::Full));
        let waiter = {
            let slots = slots.clone();
            tokio::spawn(async move { slots.room().await })
        };
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(a);
        tokio::time::timeout(std::time::Duration::from_secs(1), waiter)
            .await
            .expect("room once the connection ends")
            .unwrap();
        assert!(slots.admit(ip("10.0.0.2"), 0).is_ok());
    }

    #[test]
    fn the_per_client_cap_counts_open_connections_per_address() {
        let slots = Slots::new(100);
        let first = slots.admit(ip("10.0.0.1"), 2).unwrap();
        let _second = slots.admit(ip("10.0.0.1"), 2).unwrap();
        assert_eq!(
            slots.admit(ip("10.0.0.1"), 2).err(),
            Some(Refused::PerClient)
        );
        assert!(slots.admit(ip("10.0.0.2"), 2).is_ok(), "another address");
        assert!(slots.admit(ip("10.0.0.1"), 0).is_ok(), "0 sets no cap");
        drop(first);
        assert!(slots.admit(ip("10.0.0.1"), 3).is_ok());
        assert_eq!(
            slots.table().per_client.len(),
            1,
            "closed entries are removed"
        );
    }
}

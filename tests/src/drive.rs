//! Drives a client engine against the [`Sim`](crate::sim::Sim) in virtual time: the
//! adapter loop of ARCHITECTURE.md, with the simulation in place of sockets.
//!
//! [`World::run_until`] is bounded: it fails on a livelock (the two sides exchanging
//! without end at one instant) and when virtual time passes its limit.

use std::collections::BTreeMap;

use rocketmq_proto::collections::Growable;
use rocketmq_proto::engine::client::{Client, Event};
use rocketmq_proto::engine::{ConnId, Instant};

use crate::sim::{ConnId as SimConn, Sim};

/// The engine type the scenarios use: growable tables, owned message buffers, up to
/// 1024 requests in flight.
pub type EngineClient = Client<Growable, Vec<u8>, 1024>;

/// The engine, the simulation and the wiring between them.
pub struct World {
    /// The simulated servers.
    pub sim: Sim,
    /// The engine under test.
    pub client: EngineClient,
    /// Virtual time, ms.
    pub now: u64,
    /// Events the engine reported to the application (connect/close are handled here).
    pub events: Vec<Event>,
    links: BTreeMap<ConnId, SimConn>,
    back: BTreeMap<SimConn, ConnId>,
    inbox: BTreeMap<ConnId, Vec<u8>>,
    buf: Vec<u8>,
}

impl World {
    /// Wire `client` to `sim` at time `now`.
    pub fn new(sim: Sim, client: EngineClient, now: u64) -> Self {
        World {
            sim,
            client,
            now,
            events: Vec::new(),
            links: BTreeMap::new(),
            back: BTreeMap::new(),
            inbox: BTreeMap::new(),
            buf: vec![0u8; 1 << 20],
        }
    }

    fn at(&self) -> Instant {
        Instant::from_millis(self.now)
    }

    /// One exchange in both directions; whether anything moved.
    pub fn pump(&mut self) -> bool {
        let mut moved = false;
        while let Some(e) = self.client.poll_event() {
            moved = true;
            match e {
                Event::Connect { conn, addr } => match self.sim.connect(self.now, &addr) {
                    Ok(sc) => {
                        self.links.insert(conn, sc);
                        self.back.insert(sc, conn);
                        self.client.handle_connected(self.at(), conn);
                    }
                    Err(_) => self.client.handle_closed(self.at(), conn),
                },
                Event::Close { conn } => {
                    if let Some(sc) = self.links.remove(&conn) {
                        self.back.remove(&sc);
                        self.inbox.remove(&conn);
                        self.sim.disconnect(sc);
                    }
                }
                other => self.events.push(other),
            }
        }
        loop {
            let now = self.at();
            let t = match self.client.poll_transmit(now, &mut self.buf) {
                Ok(Some(t)) => t,
                Ok(None) => break,
                Err(e) => panic!("poll_transmit: {e}"),
            };
            moved = true;
            if let Some(&sc) = self.links.get(&t.conn) {
                let _ = self.sim.send(self.now, sc, &self.buf[..t.len]);
            }
        }
        let links: Vec<(ConnId, SimConn)> = self.links.iter().map(|(&a, &b)| (a, b)).collect();
        for (ec, sc) in links {
            while let Some(bytes) = self.sim.poll_recv(sc) {
                moved = true;
                let inbox = self.inbox.entry(ec).or_default();
                inbox.extend_from_slice(&bytes);
                let data = std::mem::take(inbox);
                match self
                    .client
                    .handle_input(Instant::from_millis(self.now), ec, &data)
                {
                    Ok(used) => {
                        self.inbox.insert(ec, data[used..].to_vec());
                    }
                    Err(_) => break, // the engine asked (via Close) to drop it
                }
            }
        }
        while let Some(sc) = self.sim.poll_closed() {
            moved = true;
            if let Some(ec) = self.back.remove(&sc) {
                self.links.remove(&ec);
                self.inbox.remove(&ec);
                self.client.handle_closed(self.at(), ec);
            }
        }
        moved
    }

    /// Run until `done` holds, moving virtual time to each next deadline, for at most
    /// `limit_ms` of virtual time.
    pub fn run_until(
        &mut self,
        limit_ms: u64,
        mut done: impl FnMut(&World) -> bool,
    ) -> Result<(), String> {
        let end = self.now + limit_ms;
        let mut pumps_at_this_instant = 0u32;
        loop {
            if done(self) {
                return Ok(());
            }
            if self.pump() {
                pumps_at_this_instant += 1;
                if pumps_at_this_instant > 100_000 {
                    return Err(format!("livelock at t={} ms", self.now));
                }
                continue;
            }
            let next_client = self.client.poll_timeout().map(Instant::as_millis);
            let next_sim = self.sim.poll_timeout();
            let next = match (next_client, next_sim) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => a.or(b).unwrap_or(end),
            };
            if next <= self.now {
                pumps_at_this_instant += 1;
                if pumps_at_this_instant > 100_000 {
                    return Err(format!("timer livelock at t={} ms", self.now));
                }
            } else {
                pumps_at_this_instant = 0;
                if next > end {
                    return Err(format!("not done after {limit_ms} ms of virtual time"));
                }
                self.now = next;
            }
            self.client.handle_timeout(self.at());
            self.sim.handle_timeout(self.now);
        }
    }

    /// Let `ms` of virtual time pass, serving everything due.
    pub fn advance(&mut self, ms: u64) {
        let until = self.now + ms;
        let _ = self.run_until(ms + 1, |w| w.now >= until);
        if self.now < until {
            self.now = until;
            self.client.handle_timeout(self.at());
            self.sim.handle_timeout(self.now);
            while self.pump() {}
        }
    }
}

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

/// One client and its wiring.
pub struct Node {
    /// The engine.
    pub client: EngineClient,
    /// Events it reported to the application (connect/close are handled here).
    pub events: Vec<Event>,
    links: BTreeMap<ConnId, SimConn>,
    back: BTreeMap<SimConn, ConnId>,
    inbox: BTreeMap<ConnId, Vec<u8>>,
}

/// The simulation and one or more engines wired to it.
pub struct World {
    /// The simulated servers.
    pub sim: Sim,
    /// The clients; node 0 is [`World::client`].
    pub nodes: Vec<Node>,
    /// Virtual time, ms.
    pub now: u64,
    buf: Vec<u8>,
}

impl World {
    /// Wire `client` to `sim` at time `now`.
    pub fn new(sim: Sim, client: EngineClient, now: u64) -> Self {
        let mut w = World {
            sim,
            nodes: Vec::new(),
            now,
            buf: vec![0u8; 1 << 20],
        };
        w.add(client);
        w
    }

    /// Wire another client; returns its node index.
    pub fn add(&mut self, client: EngineClient) -> usize {
        self.nodes.push(Node {
            client,
            events: Vec::new(),
            links: BTreeMap::new(),
            back: BTreeMap::new(),
            inbox: BTreeMap::new(),
        });
        self.nodes.len() - 1
    }

    /// Node 0's engine.
    pub fn client(&mut self) -> &mut EngineClient {
        &mut self.nodes[0].client
    }

    /// Node 0's events.
    pub fn events(&self) -> &[Event] {
        &self.nodes[0].events
    }

    /// One exchange in both directions for every node; whether anything moved.
    pub fn pump(&mut self) -> bool {
        let mut moved = false;
        for i in 0..self.nodes.len() {
            moved |= self.pump_node(i);
        }
        moved
    }

    fn pump_node(&mut self, i: usize) -> bool {
        let now = self.now;
        let at = Instant::from_millis(now);
        let World {
            sim, nodes, buf, ..
        } = self;
        let n = &mut nodes[i];
        let mut moved = false;
        while let Some(e) = n.client.poll_event() {
            moved = true;
            match e {
                Event::Connect { conn, addr } => match sim.connect(now, &addr) {
                    Ok(sc) => {
                        n.links.insert(conn, sc);
                        n.back.insert(sc, conn);
                        n.client.handle_connected(at, conn);
                    }
                    Err(_) => n.client.handle_closed(at, conn),
                },
                Event::Close { conn } => {
                    if let Some(sc) = n.links.remove(&conn) {
                        n.back.remove(&sc);
                        n.inbox.remove(&conn);
                        sim.disconnect(sc);
                    }
                }
                other => n.events.push(other),
            }
        }
        loop {
            let t = match n.client.poll_transmit(at, buf) {
                Ok(Some(t)) => t,
                Ok(None) => break,
                Err(e) => panic!("poll_transmit: {e}"),
            };
            moved = true;
            if let Some(&sc) = n.links.get(&t.conn) {
                let _ = sim.send(now, sc, &buf[..t.len]);
            }
        }
        let links: Vec<(ConnId, SimConn)> = n.links.iter().map(|(&a, &b)| (a, b)).collect();
        for (ec, sc) in links {
            while let Some(bytes) = sim.poll_recv(sc) {
                moved = true;
                let inbox = n.inbox.entry(ec).or_default();
                inbox.extend_from_slice(&bytes);
                let data = std::mem::take(inbox);
                match n.client.handle_input(at, ec, &data) {
                    Ok(used) => {
                        n.inbox.insert(ec, data[used..].to_vec());
                    }
                    Err(_) => break, // the engine asked (via Close) to drop it
                }
            }
        }
        // Closed connections: the sim reports them once, for whichever node owns them.
        let mut closed = Vec::new();
        while let Some(sc) = sim.poll_closed() {
            closed.push(sc);
        }
        for sc in closed {
            moved = true;
            let mut owned = false;
            for node in nodes.iter_mut() {
                if let Some(ec) = node.back.remove(&sc) {
                    node.links.remove(&ec);
                    node.inbox.remove(&ec);
                    node.client.handle_closed(at, ec);
                    owned = true;
                }
            }
            let _ = owned;
        }
        moved
    }

    /// Run until `done` holds, moving virtual time to each next deadline, for at most
    /// `limit_ms` of virtual time.
    pub fn run_until(
        &mut self,
        limit_ms: u64,
        mut done: impl FnMut(&mut World) -> bool,
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
            let mut next = self.sim.poll_timeout().unwrap_or(end);
            for n in &mut self.nodes {
                if let Some(t) = n.client.poll_timeout() {
                    next = next.min(t.as_millis());
                }
            }
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
            let at = Instant::from_millis(self.now);
            for n in &mut self.nodes {
                n.client.handle_timeout(at);
            }
            self.sim.handle_timeout(self.now);
        }
    }

    /// Let `ms` of virtual time pass, serving everything due.
    pub fn advance(&mut self, ms: u64) {
        let until = self.now + ms;
        let _ = self.run_until(ms + 1, |w| w.now >= until);
        if self.now < until {
            self.now = until;
            let at = Instant::from_millis(self.now);
            for n in &mut self.nodes {
                n.client.handle_timeout(at);
            }
            self.sim.handle_timeout(self.now);
            while self.pump() {}
        }
    }
}

//! Requests in flight: opaque allocation, response matching, deadlines and
//! back-pressure (wire.md §3.2).
//!
//! Invariant: every request inserted ends **exactly once** — by [`InFlight::complete`]
//! (its response arrived), by [`InFlight::poll_expired`] (its deadline passed) or by
//! [`InFlight::poll_lost`] (its connection went away). A late response for an ended
//! request matches nothing and is dropped, as Java drops it.
//!
//! The opaque carries the slot index in its low bits and a generation in its high bits,
//! so matching a response is O(1) without hashing, and a stale opaque (from a request
//! that already ended and whose slot was reused) is recognised as stale. Deadlines sit
//! in a min-heap with lazy deletion, so the next deadline is O(1) to read and expiry
//! costs O(log N) per request. Capacity `N` is fixed: when full, [`InFlight::insert`]
//! gives the request back — that is the back-pressure an adapter sees.
//!
//! ```
//! use rocketmq_proto::engine::inflight::InFlight;
//! use rocketmq_proto::engine::{ConnId, Instant};
//!
//! let mut t: InFlight<&str, 4> = InFlight::new();
//! let a = t.insert(ConnId(1), Instant::from_millis(3_000), "route query").unwrap();
//! let b = t.insert(ConnId(1), Instant::from_millis(1_000), "heartbeat").unwrap();
//! assert_eq!(t.next_deadline(), Some(Instant::from_millis(1_000)));
//! assert_eq!(t.complete(a), Some((ConnId(1), "route query")));
//! assert_eq!(t.complete(a), None); // a late duplicate matches nothing
//! assert_eq!(t.poll_expired(Instant::from_millis(1_000)), Some((b, ConnId(1), "heartbeat")));
//! assert!(t.is_empty());
//! ```

use heapless::binary_heap::{BinaryHeap, Min};

use super::{ConnId, Instant};

#[derive(Debug, Clone)]
struct Entry<T> {
    opaque: i32,
    conn: ConnId,
    deadline: Instant,
    value: T,
}

/// A fixed-capacity table of requests in flight. See the [module docs](self).
#[derive(Debug)]
pub struct InFlight<T, const N: usize> {
    slots: heapless::Vec<Option<Entry<T>>, N>,
    /// Free slot indices (LIFO).
    free: heapless::Vec<u16, N>,
    /// (deadline ms, opaque) of every live request, plus stale ones until popped.
    deadlines: BinaryHeap<(u64, i32), Min, N>,
    /// Bumped per insert; the high bits of the next opaque.
    generation: u32,
    len: usize,
}

impl<T, const N: usize> Default for InFlight<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T, const N: usize> InFlight<T, N> {
    /// Bits of the opaque that hold the slot index.
    const INDEX_BITS: u32 = {
        assert!(N > 0 && N <= 1 << 16, "capacity must be 1..=65536");
        usize::BITS - (N - 1).leading_zeros()
    };

    /// An empty table.
    pub const fn new() -> Self {
        InFlight {
            slots: heapless::Vec::new(),
            free: heapless::Vec::new(),
            deadlines: BinaryHeap::new(),
            generation: 0,
            len: 0,
        }
    }

    /// Requests in flight.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is in flight.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether another request would be refused.
    pub fn is_full(&self) -> bool {
        self.len >= N
    }

    /// The capacity.
    pub const fn capacity(&self) -> usize {
        N
    }

    fn index_of(opaque: i32) -> usize {
        let bits = Self::INDEX_BITS;
        let mask = if bits >= 32 {
            u32::MAX
        } else {
            (1u32 << bits) - 1
        };
        (opaque as u32 & mask) as usize
    }

    /// Register a request to `conn` ending at `deadline`; returns its opaque, or the
    /// value back when the table is full.
    pub fn insert(&mut self, conn: ConnId, deadline: Instant, value: T) -> Result<i32, T> {
        if self.len >= N {
            return Err(value);
        }
        let index = match self.free.pop() {
            Some(i) => usize::from(i),
            None => {
                let i = self.slots.len();
                if self.slots.push(None).is_err() {
                    return Err(value);
                }
                i
            }
        };
        if self.deadlines.len() >= N {
            self.compact_deadlines();
        }
        self.generation = self.generation.wrapping_add(1);
        let bits = Self::INDEX_BITS;
        let high = if bits >= 32 {
            0
        } else {
            self.generation << bits
        };
        let opaque = (high | index as u32) as i32;
        let Some(slot) = self.slots.get_mut(index) else {
            return Err(value);
        };
        *slot = Some(Entry {
            opaque,
            conn,
            deadline,
            value,
        });
        // Cannot fail: compaction left room for every live request.
        let _ = self.deadlines.push((deadline.as_millis(), opaque));
        self.len += 1;
        Ok(opaque)
    }

    /// Drop heap entries of requests that already ended.
    fn compact_deadlines(&mut self) {
        let mut live = BinaryHeap::new();
        for e in self.slots.iter().flatten() {
            let _ = live.push((e.deadline.as_millis(), e.opaque));
        }
        self.deadlines = live;
    }

    fn take(&mut self, opaque: i32) -> Option<Entry<T>> {
        let index = Self::index_of(opaque);
        let slot = self.slots.get_mut(index)?;
        if slot.as_ref()?.opaque != opaque {
            return None;
        }
        let entry = slot.take()?;
        let _ = self.free.push(index as u16);
        self.len -= 1;
        Some(entry)
    }

    /// The response for `opaque` arrived: end the request. `None` if no such request is
    /// in flight (late, duplicate or unknown response — drop it).
    pub fn complete(&mut self, opaque: i32) -> Option<(ConnId, T)> {
        self.take(opaque).map(|e| (e.conn, e.value))
    }

    /// What a request is for, if it is in flight.
    pub fn value_of(&self, opaque: i32) -> Option<&T> {
        let e = self.slots.get(Self::index_of(opaque))?.as_ref()?;
        (e.opaque == opaque).then_some(&e.value)
    }

    /// The connection a request was sent on, if it is in flight.
    pub fn conn_of(&self, opaque: i32) -> Option<ConnId> {
        let e = self.slots.get(Self::index_of(opaque))?.as_ref()?;
        (e.opaque == opaque).then_some(e.conn)
    }

    /// The earliest deadline among requests in flight.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        self.drop_stale_top();
        self.deadlines
            .peek()
            .map(|&(ms, _)| Instant::from_millis(ms))
    }

    fn drop_stale_top(&mut self) {
        while let Some(&(ms, opaque)) = self.deadlines.peek() {
            let live = self
                .slots
                .get(Self::index_of(opaque))
                .and_then(Option::as_ref)
                .is_some_and(|e| e.opaque == opaque && e.deadline.as_millis() == ms);
            if live {
                return;
            }
            let _ = self.deadlines.pop();
        }
    }

    /// End one request whose deadline is at or before `now`. Call until `None`.
    pub fn poll_expired(&mut self, now: Instant) -> Option<(i32, ConnId, T)> {
        self.drop_stale_top();
        let &(ms, opaque) = self.deadlines.peek()?;
        if ms > now.as_millis() {
            return None;
        }
        let _ = self.deadlines.pop();
        self.take(opaque).map(|e| (opaque, e.conn, e.value))
    }

    /// End one request that was sent on `conn` (the connection is gone). Call until
    /// `None`.
    pub fn poll_lost(&mut self, conn: ConnId) -> Option<(i32, T)> {
        let opaque = self
            .slots
            .iter()
            .flatten()
            .find(|e| e.conn == conn)
            .map(|e| e.opaque)?;
        self.take(opaque).map(|e| (opaque, e.value))
    }

    /// Iterate over requests in flight: (opaque, connection, deadline, value).
    pub fn iter(&self) -> impl Iterator<Item = (i32, ConnId, Instant, &T)> {
        self.slots
            .iter()
            .flatten()
            .map(|e| (e.opaque, e.conn, e.deadline, &e.value))
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;
    use std::vec::Vec;

    #[derive(Debug, Clone)]
    enum Op {
        Insert { conn: u8, timeout: u16 },
        Complete { pick: usize },
        CompleteBogus { opaque: i32 },
        Advance { ms: u16 },
        Lose { conn: u8 },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u8..3, 0u16..500).prop_map(|(conn, timeout)| Op::Insert { conn, timeout }),
            3 => any::<usize>().prop_map(|pick| Op::Complete { pick }),
            1 => any::<i32>().prop_map(|opaque| Op::CompleteBogus { opaque }),
            2 => (0u16..300).prop_map(|ms| Op::Advance { ms }),
            1 => (0u8..3).prop_map(|conn| Op::Lose { conn }),
        ]
    }

    proptest! {
        /// Against a model: every request ends exactly once, by response, expiry or
        /// connection loss; nothing else ever matches; the next deadline is the earliest
        /// live one; the table refuses beyond capacity.
        #[test]
        fn every_request_ends_exactly_once(ops in proptest::collection::vec(op(), 0..400)) {
            let mut t: InFlight<u32, 8> = InFlight::new();
            let mut model: BTreeMap<i32, (u8, u64, u32)> = BTreeMap::new();
            let mut ended: Vec<u32> = Vec::new();
            let mut now = 0u64;
            let mut next_id = 0u32;
            for op in ops {
                match op {
                    Op::Insert { conn, timeout } => {
                        let id = next_id;
                        next_id += 1;
                        let deadline = now + u64::from(timeout);
                        match t.insert(ConnId(conn.into()), Instant::from_millis(deadline), id) {
                            Ok(opaque) => {
                                prop_assert!(model.len() < 8);
                                prop_assert!(!model.contains_key(&opaque));
                                model.insert(opaque, (conn, deadline, id));
                            }
                            Err(v) => {
                                prop_assert_eq!(v, id);
                                prop_assert_eq!(model.len(), 8);
                            }
                        }
                    }
                    Op::Complete { pick } => {
                        if let Some((&opaque, &(conn, _, id))) =
                            model.iter().nth(pick % model.len().max(1))
                        {
                            prop_assert_eq!(t.complete(opaque), Some((ConnId(conn.into()), id)));
                            model.remove(&opaque);
                            ended.push(id);
                            prop_assert_eq!(t.complete(opaque), None);
                        }
                    }
                    Op::CompleteBogus { opaque } => {
                        let r = t.complete(opaque);
                        match model.remove(&opaque) {
                            Some((conn, _, id)) => {
                                prop_assert_eq!(r, Some((ConnId(conn.into()), id)));
                                ended.push(id);
                            }
                            None => prop_assert_eq!(r, None),
                        }
                    }
                    Op::Advance { ms } => {
                        now += u64::from(ms);
                        while let Some((opaque, conn, id)) = t.poll_expired(Instant::from_millis(now)) {
                            let (mconn, deadline, mid) = model.remove(&opaque).expect("expired a live request");
                            prop_assert!(deadline <= now);
                            prop_assert_eq!((ConnId(mconn.into()), mid), (conn, id));
                            ended.push(id);
                        }
                        prop_assert!(model.values().all(|&(_, d, _)| d > now));
                    }
                    Op::Lose { conn } => {
                        while let Some((opaque, id)) = t.poll_lost(ConnId(conn.into())) {
                            let (mconn, _, mid) = model.remove(&opaque).expect("lost a live request");
                            prop_assert_eq!((mconn, mid), (conn, id));
                            ended.push(id);
                        }
                        prop_assert!(model.values().all(|&(c, _, _)| c != conn));
                    }
                }
                prop_assert_eq!(t.len(), model.len());
                let want = model.values().map(|&(_, d, _)| d).min().map(Instant::from_millis);
                prop_assert_eq!(t.next_deadline(), want);
            }
            // Ended ids are unique: nothing ended twice.
            let mut sorted = ended.clone();
            sorted.sort_unstable();
            sorted.dedup();
            prop_assert_eq!(sorted.len(), ended.len());
        }
    }

    #[test]
    fn stale_opaque_of_a_reused_slot_matches_nothing() {
        let mut t: InFlight<u8, 1> = InFlight::new();
        let a = t.insert(ConnId(0), Instant::from_millis(10), 1).unwrap();
        assert_eq!(t.complete(a), Some((ConnId(0), 1)));
        let b = t.insert(ConnId(0), Instant::from_millis(10), 2).unwrap();
        assert_ne!(a, b);
        assert_eq!(t.complete(a), None);
        assert_eq!(t.conn_of(b), Some(ConnId(0)));
        assert_eq!(t.insert(ConnId(0), Instant::from_millis(10), 3), Err(3));
    }

    /// A full table whose oldest requests end between inserts, with no timer read
    /// between (an async pipeline): the heap of deadlines fills with stale entries and
    /// is compacted, and deadlines stay exact.
    #[test]
    fn a_full_table_churned_in_order_keeps_exact_deadlines() {
        let mut t: InFlight<u32, 8> = InFlight::new();
        let mut live = std::collections::VecDeque::new();
        for i in 0..8u32 {
            let o = t
                .insert(ConnId(0), Instant::from_millis(u64::from(i)), i)
                .unwrap();
            live.push_back((o, i));
        }
        // Three at a time end oldest first and three begin, with no timer read between.
        for round in 0..100u32 {
            for _ in 0..3 {
                let (o, i) = live.pop_front().unwrap();
                assert_eq!(t.complete(o), Some((ConnId(0), i)));
            }
            for k in 0..3 {
                let i = 8 + round * 3 + k;
                let o = t
                    .insert(ConnId(0), Instant::from_millis(u64::from(i)), i)
                    .unwrap();
                live.push_back((o, i));
            }
            assert_eq!(t.len(), 8);
        }
        let first = live
            .front()
            .map(|&(_, i)| Instant::from_millis(u64::from(i)));
        assert_eq!(t.next_deadline(), first);
        let expired: Vec<u32> =
            core::iter::from_fn(|| t.poll_expired(Instant::from_millis(u64::MAX)))
                .map(|(_, _, i)| i)
                .collect();
        assert_eq!(expired, live.iter().map(|&(_, i)| i).collect::<Vec<_>>());
    }

    #[test]
    fn many_churns_keep_the_heap_bounded() {
        let mut t: InFlight<u32, 4> = InFlight::new();
        for i in 0..10_000u32 {
            let o = t
                .insert(ConnId(0), Instant::from_millis(u64::from(i) + 1_000), i)
                .unwrap();
            assert_eq!(t.complete(o), Some((ConnId(0), i)));
        }
        assert!(t.is_empty());
        assert_eq!(t.next_deadline(), None);
    }
}

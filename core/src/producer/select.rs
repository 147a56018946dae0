//! Queue selection (behaviour.md §2.6).
//!
//! [`RoundRobin`] is Java's default with latency fault tolerance off: a per-topic
//! counter (`(++value) & 0x7FFFFFFF`), skipping queues of the broker that just failed
//! when another broker has queues. [`select_by_hash`] is Java's
//! `SelectMessageQueueByHash` for ordered messages: the same key always lands on the
//! same queue index, identical to a Java producer's choice.
//!
//! ```
//! use rocketmq_proto::producer::select::{RoundRobin, select_by_hash};
//! let queues = [("broker-a", 0), ("broker-a", 1), ("broker-b", 0)];
//! let mut rr = RoundRobin::new(0);
//! assert_eq!(rr.select(&queues, |q| q.0, None), Some(1));
//! // A retry after broker-a failed moves to broker-b.
//! assert_eq!(rr.select(&queues, |q| q.0, Some("broker-a")), Some(2));
//! assert_eq!(select_by_hash("order-42", 3), select_by_hash("order-42", 3));
//! ```

use crate::message::tag_hash;

/// Java's per-topic round-robin counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoundRobin {
    value: u32,
}

impl RoundRobin {
    /// Start at `seed` (Java: a random value).
    pub const fn new(seed: u32) -> Self {
        RoundRobin { value: seed }
    }

    fn next(&mut self) -> usize {
        self.value = self.value.wrapping_add(1);
        (self.value & 0x7FFF_FFFF) as usize
    }

    /// Pick a queue index: round robin, avoiding `last_broker` (the broker of the
    /// previous failed attempt) when any other broker has a queue. `None` only for an
    /// empty list.
    pub fn select<Q>(
        &mut self,
        queues: &[Q],
        broker_of: impl Fn(&Q) -> &str,
        last_broker: Option<&str>,
    ) -> Option<usize> {
        let other_broker = last_broker
            .map(|last| move |i: usize| queues.get(i).is_some_and(|q| broker_of(q) != last));
        self.select_avoiding(queues.len(), other_broker)
    }

    /// [`RoundRobin::select`] among `n` queues, `other_broker(i)` telling whether queue
    /// `i` is not on the broker that just failed (the engine names brokers by index).
    pub(crate) fn select_avoiding(
        &mut self,
        n: usize,
        other_broker: Option<impl Fn(usize) -> bool>,
    ) -> Option<usize> {
        if n == 0 {
            return None;
        }
        if let Some(other_broker) = other_broker {
            for _ in 0..n {
                let i = self.next() % n;
                if other_broker(i) {
                    return Some(i);
                }
            }
        }
        Some(self.next() % n)
    }
}

/// Java's `SelectMessageQueueByHash` with a `String` argument: `abs(key.hashCode() % n)`
/// (Java remainder, UTF-16 hash). `n` must be non-zero (returns 0 otherwise).
pub fn select_by_hash(key: &str, n: usize) -> usize {
    select_by_hash_value(tag_hash(key), n)
}

/// [`select_by_hash`] for a key's hash computed beforehand (the engine keeps the hash,
/// not the key).
pub(crate) fn select_by_hash_value(hash: i32, n: usize) -> usize {
    let Ok(n) = i32::try_from(n) else {
        return 0;
    };
    if n == 0 {
        return 0;
    }
    (hash % n).unsigned_abs() as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_over_all_queues_and_avoids_the_failed_broker() {
        let queues = [("a", 0), ("a", 1), ("b", 0), ("b", 1)];
        let mut rr = RoundRobin::new(u32::MAX - 1); // wraps through the 0x7FFFFFFF mask
        let picks: [usize; 8] =
            core::array::from_fn(|_| rr.select(&queues, |q| q.0, None).unwrap());
        for i in 0..4 {
            assert_eq!(picks.iter().filter(|&&p| p == i).count(), 2, "{picks:?}");
        }
        for _ in 0..16 {
            let i = rr.select(&queues, |q| q.0, Some("a")).unwrap();
            assert_eq!(queues[i].0, "b");
        }
        // A single-broker topic still gets a queue on retry.
        let single = [("a", 0), ("a", 1)];
        assert!(rr.select(&single, |q| q.0, Some("a")).is_some());
        assert_eq!(rr.select::<(&str, i32)>(&[], |q| q.0, None), None);
    }

    #[test]
    fn hash_selection_matches_java() {
        // Java: "TagA".hashCode() = 2598919; 2598919 % 8 = 7.
        assert_eq!(select_by_hash("TagA", 8), 7);
        // A negative hash: Java takes abs of the (negative) remainder.
        // "polygenelubricants".hashCode() == Integer.MIN_VALUE; MIN_VALUE % 7 == -2 -> 2.
        assert_eq!(tag_hash("polygenelubricants"), i32::MIN);
        assert_eq!(select_by_hash("polygenelubricants", 7), 2);
        assert_eq!(select_by_hash("x", 0), 0);
    }
}

//! Orderly consumption's broker locks (behaviour.md §4.11): LOCK_BATCH_MQ when queues
//! are added and every lock interval, the client's 30 s view of a lock's life, and
//! UNLOCK_BATCH_MQ when a queue is released or the consumer stops.

use super::consumer::{OwnedQueue, LOCK_EXPIRY};
use super::*;

impl<C: Collections, B: MessageBuf, const INFLIGHT: usize> Client<C, B, INFLIGHT> {
    /// Expire stale locks and run the lock round when it is due.
    pub(super) fn orderly_tick(&mut self, now: Instant) {
        let Some(c) = self.consumer.as_mut() else {
            return;
        };
        if !c.locks_queues() {
            return;
        }
        // Past 30 s without a renewal the queue is not consumed (batches already with
        // the application stay theirs) until the broker grants it again: the broker
        // gives an unrenewed lock away after 60 s, so nobody else can hold it yet.
        for q in c.queues.iter_mut() {
            if q.locked_at.is_some_and(|t| now >= t + LOCK_EXPIRY) {
                q.locked_at = None;
            }
        }
        if now < c.next_lock {
            return;
        }
        c.next_lock = now + c.lock_interval;
        self.lock_round(now);
    }

    /// LOCK_BATCH_MQ to the master of every broker we hold queues on, naming all of
    /// them (Java `lockAll`): one request per broker at a time.
    fn lock_round(&mut self, now: Instant) {
        // Java locks synchronously with a 1 s timeout.
        let deadline = now + Millis(1_000);
        // By index: the broker table is append-only and requests do not change it.
        for i in 0..self.brokers.len() {
            let Some(b) = self.brokers.get(i).filter(|b| b.id == 0) else {
                continue;
            };
            let broker = b.name;
            let owns = self
                .consumer
                .as_ref()
                .is_some_and(|c| c.queues.iter().any(|q| q.broker == broker));
            let busy = self
                .inflight
                .iter()
                .any(|(_, _, _, p)| *p == Purpose::Lock { broker });
            if owns && !busy {
                let addr = b.addr.clone();
                self.push_request(&addr, deadline, Purpose::Lock { broker });
            }
        }
    }

    /// The broker's answer: the queues it names are ours for now, the others are not.
    pub(super) fn on_lock(&mut self, now: Instant, broker: u16, cmd: &Command<'_>) {
        use crate::body::LockBatchResponseBody;
        if !cfg!(feature = "orderly") {
            return; // never asked for (no lock without the feature)
        }
        let Some(name) = self.names.get(usize::from(broker)) else {
            return;
        };
        let granted = (cmd.header.response_code() == ResponseCode::SUCCESS)
            .then(|| LockBatchResponseBody::<C>::decode(cmd.body).ok())
            .flatten();
        let topics = &self.topics;
        let Some(c) = self.consumer.as_mut() else {
            return;
        };
        let Some(granted) = granted else {
            c.next_lock = c.next_lock.min(now + Millis(3_000));
            return;
        };
        let mut refused = false;
        for q in c.queues.iter_mut().filter(|q| q.broker == broker) {
            let topic = topics.get(usize::from(q.topic)).map(|t| t.topic.as_str());
            let ok = granted.lock_ok_mq_set.iter().any(|mq| {
                mq.queue_id == q.queue_id
                    && mq.broker_name == name.as_str()
                    && topic.is_some_and(|t| mq.topic == t)
            });
            if !ok {
                q.locked_at = None;
                refused = true;
                continue;
            }
            // A queue waiting for it moves on in drive_queues.
            q.locked_at = Some(now);
        }
        if refused {
            // Someone else still holds it (its lock lives up to 60 s): try again soon
            // (Java: "try lock later", 3 s).
            c.next_lock = c.next_lock.min(now + Millis(3_000));
        }
        self.drive_queues(now);
    }

    /// UNLOCK_BATCH_MQ, oneway, for a queue we release.
    pub(super) fn push_unlock(&mut self, q: &OwnedQueue) {
        let mq = QueueRef {
            topic: q.topic,
            broker: q.broker,
            queue_id: q.queue_id,
        };
        self.push_oneway(Purpose::Unlock { broker: q.broker }, mq);
    }

    /// Stopping: give every lock back so another member can take over at once.
    pub(super) fn unlock_all(&mut self) {
        let Some(c) = self.consumer.as_mut() else {
            return;
        };
        if !c.locks_queues() {
            return;
        }
        for i in 0..c.queues.len() {
            let Some(q) = self
                .consumer
                .as_mut()
                .and_then(|c| c.queues.get_mut(i))
                .filter(|q| q.locked_at.is_some())
            else {
                continue;
            };
            q.locked_at = None;
            let q = q.clone();
            self.push_unlock(&q);
        }
    }
}

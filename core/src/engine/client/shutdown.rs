//! Graceful shutdown (behaviour.md §8).

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ShutdownPhase {
    /// Nothing new is pulled or sent; waiting for delivered batches to be acked and
    /// sends to end.
    Draining,
    /// Offsets committed; UNREGISTER_CLIENT in flight.
    Unregistering,
    /// Finished; `ShutdownComplete` once the last frames are written.
    Done,
    /// `ShutdownComplete` handed out.
    Reported,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Shutdown {
    pub(super) phase: ShutdownPhase,
    /// Deadline of the current phase.
    pub(super) until: Instant,
}

impl Shutdown {
    /// Done: no deadline of its own is left.
    pub(super) fn finished(&self) -> bool {
        matches!(self.phase, ShutdownPhase::Done | ShutdownPhase::Reported)
    }
}

impl<C: Collections, B: MessageBuf, const INFLIGHT: usize> Client<C, B, INFLIGHT> {
    /// Begin a graceful shutdown (behaviour.md §8), bounded in time:
    ///
    /// 1. stop pulling and refuse new sends and subscriptions;
    /// 2. wait up to `drain` for delivered batches to be acked and sends to end;
    /// 3. commit the consumed offsets and send UNREGISTER_CLIENT for every group to every
    ///    known broker (waiting up to the request timeout for answers);
    /// 4. report [`Event::ShutdownComplete`] once the last frames are written.
    ///
    /// Sends still running when the drain ends fail with [`SendError::Closed`]; batches
    /// not acked by then are not committed (their next owner gets them again). Calling
    /// it again changes nothing.
    pub fn shutdown(&mut self, now: Instant, drain: Millis) {
        if self.shutdown.is_some() {
            return;
        }
        self.shutdown = Some(Shutdown {
            phase: ShutdownPhase::Draining,
            until: now + drain,
        });
        // Pulls in flight are abandoned: a late answer must not deliver anything.
        let pulls: heapless::Vec<i32, 64> = self
            .inflight
            .iter()
            .filter(|(_, _, _, p)| matches!(p, Purpose::Pull { .. }))
            .map(|(o, _, _, _)| o)
            .take(64)
            .collect();
        for o in pulls {
            self.inflight.complete(o);
        }
        self.outbound
            .retain_where(|o| !matches!(o.purpose, Purpose::Pull { .. }));
        self.shutdown_tick(now);
    }

    /// Whether [`Client::shutdown`] has finished.
    pub fn is_shut_down(&self) -> bool {
        matches!(
            self.shutdown.map(|s| s.phase),
            Some(ShutdownPhase::Done | ShutdownPhase::Reported)
        )
    }

    pub(super) fn shutdown_tick(&mut self, now: Instant) {
        let Some(sd) = self.shutdown else { return };
        match sd.phase {
            ShutdownPhase::Draining => {
                let unacked = self
                    .consumer
                    .as_ref()
                    .is_some_and(|c| c.batches.iter().any(|b| b.announced));
                let sending = self
                    .sends
                    .iter()
                    .any(|s| !matches!(s.phase, SendPhase::Done | SendPhase::Free));
                if (unacked || sending) && now < sd.until {
                    return;
                }
                self.for_each_send(
                    |s| !matches!(s.phase, SendPhase::Done | SendPhase::Free),
                    |c, id| c.end_send(id, Err(Failure::Closed)),
                );
                if let Some(c) = self.consumer.as_mut() {
                    // Not acked in time: not committed; the next owner gets them again.
                    c.batches.retain_where(|_| false);
                }
                self.commit_offsets();
                self.unlock_all();
                self.unregister_everywhere(now);
                self.shutdown = Some(Shutdown {
                    phase: ShutdownPhase::Unregistering,
                    until: now + self.config.request_timeout,
                });
                self.shutdown_tick(now);
            }
            ShutdownPhase::Unregistering => {
                let waiting = self
                    .inflight
                    .iter()
                    .any(|(_, _, _, p)| matches!(p, Purpose::Unregister { .. }));
                if waiting && now < sd.until {
                    return;
                }
                // Frames for connections that never opened cannot be written.
                let conns = &self.conns;
                self.outbound.retain_where(|o| {
                    conns
                        .iter()
                        .any(|c| c.id == o.conn && c.state == ConnState::Open)
                });
                self.shutdown = Some(Shutdown {
                    phase: ShutdownPhase::Done,
                    until: now,
                });
            }
            ShutdownPhase::Done | ShutdownPhase::Reported => {}
        }
    }

    pub(super) fn unregister_everywhere(&mut self, now: Instant) {
        let producers = self.producer_groups.len().min(usize::from(u8::MAX));
        let deadline = now + self.config.request_timeout;
        for i in 0..self.brokers.len() {
            let Some(addr) = self.brokers.get(i).map(|b| b.addr.clone()) else {
                continue;
            };
            let addr = &addr;
            if self.consumer.is_some() {
                self.push_request(addr, deadline, Purpose::Unregister { producer: None });
            }
            for i in 0..producers {
                self.push_request(
                    addr,
                    deadline,
                    Purpose::Unregister {
                        producer: Some(i as u8),
                    },
                );
            }
        }
    }

    pub(super) fn shutdown_event(&mut self) -> Option<Event> {
        let sd = self.shutdown.as_mut()?;
        if sd.phase == ShutdownPhase::Done && self.outbound.is_empty() {
            sd.phase = ShutdownPhase::Reported;
            return Some(Event::ShutdownComplete);
        }
        None
    }
}

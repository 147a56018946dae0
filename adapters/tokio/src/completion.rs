//! One-shot completions for the send path, recycled through a pool.
//!
//! A send's outcome travels from the driver to the application's future through one
//! of these. `tokio::sync::oneshot` would do, but it allocates its shared cell on every
//! send; at hundreds of thousands of sends per second that allocation is most of what
//! a send costs the allocator. Here the cells are reused: whichever side lets go last
//! (the uniqueness check of [`Arc::get_mut`] says which) resets its cell and puts it
//! back in the pool, so in steady state a send allocates nothing.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

/// Cells kept for reuse at most (a burst beyond this frees its extra cells).
const POOL_CAP: usize = 16 * 1024;

struct Slot<T> {
    value: Option<T>,
    waker: Option<Waker>,
    /// The sender is gone (with or without a value).
    closed: bool,
}

struct Cell<T> {
    slot: Mutex<Slot<T>>,
}

impl<T> Cell<T> {
    fn new() -> Self {
        Cell {
            slot: Mutex::new(Slot {
                value: None,
                waker: None,
                closed: false,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slot<T>> {
        // A panic while holding the lock leaves the slot consistent (plain stores).
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Where spent cells wait to be used again (shared by every completion of a client).
pub(crate) struct Pool<T> {
    free: Mutex<Vec<Arc<Cell<T>>>>,
}

impl<T> Pool<T> {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Pool {
            free: Mutex::new(Vec::new()),
        })
    }

    /// A sender and the receiver it completes, on a recycled cell if one is free.
    pub(crate) fn channel(self: &Arc<Self>) -> (Sender<T>, Receiver<T>) {
        let cell = self
            .free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
            .unwrap_or_else(|| Arc::new(Cell::new()));
        (
            Sender {
                cell: Some(Arc::clone(&cell)),
                pool: Arc::clone(self),
            },
            Receiver {
                cell: Some(cell),
                pool: Arc::clone(self),
            },
        )
    }

    /// Put `cell` back if nobody else holds it any more.
    fn release(&self, mut cell: Arc<Cell<T>>) {
        // Unique: the other side has let go already, so nobody can see the reset.
        // Not unique: the other side releases it later (or both miss, and it is freed).
        if let Some(c) = Arc::get_mut(&mut cell) {
            let slot = c.slot.get_mut().unwrap_or_else(PoisonError::into_inner);
            slot.value = None;
            slot.waker = None;
            slot.closed = false;
            let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
            if free.len() < POOL_CAP {
                free.push(cell);
            }
        }
    }
}

/// Completes its [`Receiver`] once. Dropped without a value, the receiver gets
/// `Err(Closed)`.
pub(crate) struct Sender<T> {
    cell: Option<Arc<Cell<T>>>,
    pool: Arc<Pool<T>>,
}

impl<T> Sender<T> {
    /// Hand `value` to the receiver (dropped if the receiver is gone).
    pub(crate) fn send(mut self, value: T) {
        if let Some(cell) = self.cell.take() {
            let waker = {
                let mut slot = cell.lock();
                slot.value = Some(value);
                slot.closed = true;
                slot.waker.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
            self.pool.release(cell);
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if let Some(cell) = self.cell.take() {
            let waker = {
                let mut slot = cell.lock();
                slot.closed = true;
                slot.waker.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
            self.pool.release(cell);
        }
    }
}

/// The sender went away without a value.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Closed;

/// Resolves with what its [`Sender`] sent.
pub(crate) struct Receiver<T> {
    cell: Option<Arc<Cell<T>>>,
    pool: Arc<Pool<T>>,
}

impl<T> Receiver<T> {
    /// Poll for `value(v)`, or `closed()` once the sender went away without a value (or
    /// when polled again after resolving). The value comes straight out of the cell: a send's
    /// outcome is a few hundred bytes, and every intermediate value (an `Option`, a
    /// `Result` to unwrap again) is one more copy of it.
    pub(crate) fn poll_map<U>(
        &mut self,
        cx: &mut Context<'_>,
        value: impl FnOnce(T) -> U,
        closed: impl FnOnce() -> U,
    ) -> Poll<U> {
        let Some(cell) = self.cell.as_ref() else {
            return Poll::Ready(closed());
        };
        let mut slot = cell.lock();
        if slot.value.is_none() && !slot.closed {
            match &mut slot.waker {
                Some(w) => w.clone_from(cx.waker()),
                None => slot.waker = Some(cx.waker().clone()),
            }
            return Poll::Pending;
        }
        let outcome = slot.value.take();
        drop(slot);
        if let Some(cell) = self.cell.take() {
            self.pool.release(cell);
        }
        Poll::Ready(match outcome {
            Some(v) => value(v),
            None => closed(),
        })
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, Closed>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.poll_map(cx, Ok, || Err(Closed))
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        if let Some(cell) = self.cell.take() {
            self.pool.release(cell);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_value_arrives_and_the_cell_is_reused() {
        let pool = Pool::<u32>::new();
        let (tx, rx) = pool.channel();
        tx.send(7);
        assert_eq!(rx.await, Ok(7));
        assert_eq!(pool.free.lock().unwrap().len(), 1, "the spent cell is back");
        let (tx, rx) = pool.channel();
        assert_eq!(pool.free.lock().unwrap().len(), 0, "and taken again");
        let waiter = tokio::spawn(rx);
        tokio::task::yield_now().await;
        tx.send(8);
        assert_eq!(waiter.await.unwrap(), Ok(8));
        assert_eq!(pool.free.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_sender_dropped_without_a_value_closes_and_a_reused_cell_starts_empty() {
        let pool = Pool::<u32>::new();
        let (tx, rx) = pool.channel();
        drop(tx);
        assert_eq!(rx.await, Err(Closed));
        // The recycled cell holds no stale state: a fresh wait does not resolve early.
        let (tx, mut rx) = pool.channel();
        let waker = futures_task_noop();
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut rx).poll(&mut cx).is_pending());
        tx.send(1);
        assert_eq!(Pin::new(&mut rx).poll(&mut cx), Poll::Ready(Ok(1)));
    }

    #[tokio::test]
    async fn a_receiver_dropped_first_leaves_the_send_harmless() {
        let pool = Pool::<String>::new();
        let (tx, rx) = pool.channel();
        drop(rx);
        tx.send("lost".to_owned());
        assert_eq!(pool.free.lock().unwrap().len(), 1);
        let (tx, rx) = pool.channel();
        tx.send("kept".to_owned());
        assert_eq!(rx.await.as_deref(), Ok("kept"));
    }

    #[test]
    fn many_threads_complete_and_recycle_without_losing_a_value() {
        let pool = Pool::<u64>::new();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        rt.block_on(async {
            let mut waits = Vec::new();
            for i in 0..20_000u64 {
                let (tx, rx) = pool.channel();
                tokio::spawn(async move { tx.send(i) });
                waits.push(rx);
            }
            for (i, rx) in waits.into_iter().enumerate() {
                assert_eq!(rx.await, Ok(i as u64));
            }
        });
        assert!(pool.free.lock().unwrap().len() <= POOL_CAP);
    }

    fn futures_task_noop() -> Waker {
        Waker::noop().clone()
    }
}

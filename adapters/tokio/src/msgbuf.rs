//! The engine's per-send message buffer (properties and body, kept for retries),
//! recycled.
//!
//! Every send needs one while it is in progress; a plain `Vec<u8>` costs an allocation
//! per send. These go back to a free list when dropped and are taken from it again, so
//! in steady state a send allocates nothing for its buffer. The free list is one for
//! the process, not one per thread: a driver task moves between worker threads, and
//! per-thread lists then fill on one thread while the other allocates. Only drivers
//! touch it, each once per send end and once per send start (an uncontended lock is
//! cheaper than the allocation and free it saves). It is bounded ([`POOL_BYTES`],
//! buffers up to [`MAX_POOLED`]), so a burst of large messages does not stay resident.

use std::sync::{Mutex, PoisonError};

use rocketmq_proto::engine::client::MessageBuf;

/// Bytes of spare buffers kept at most.
const POOL_BYTES: usize = 4 << 20;
/// Buffers larger than this are freed, not kept.
const MAX_POOLED: usize = 64 << 10;

/// Spare buffers, bounded by [`POOL_BYTES`] and [`MAX_POOLED`].
///
/// Invariant: `bytes` is the sum of the capacities in `bufs`, and every buffer in
/// `bufs` is empty and at most [`MAX_POOLED`] bytes large.
#[derive(Debug)]
struct FreeList {
    bufs: Vec<Vec<u8>>,
    bytes: usize,
}

impl FreeList {
    const fn new() -> Self {
        FreeList {
            bufs: Vec::new(),
            bytes: 0,
        }
    }

    /// The most recently returned buffer (or a new empty one), emptied.
    fn take(&mut self) -> Vec<u8> {
        let v = self.bufs.pop().unwrap_or_default();
        self.bytes -= v.capacity();
        v
    }

    /// Keeps `v` for reuse if it is small enough and the list has room; frees it otherwise.
    fn give(&mut self, mut v: Vec<u8>) {
        let cap = v.capacity();
        if cap == 0 || cap > MAX_POOLED || self.bytes + cap > POOL_BYTES {
            return;
        }
        v.clear();
        self.bytes += cap;
        self.bufs.push(v);
    }
}

static FREE: Mutex<FreeList> = Mutex::new(FreeList::new());

fn free_list() -> std::sync::MutexGuard<'static, FreeList> {
    // The list is consistent between statements: a poisoned lock is still usable.
    FREE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A message buffer that returns to the free list when dropped.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct PooledBuf(Vec<u8>);

impl PooledBuf {
    /// An empty buffer holding at least `len` bytes (`None` if that cannot be had).
    fn take_vec(len: usize) -> Option<Vec<u8>> {
        let mut v = free_list().take();
        v.try_reserve_exact(len).ok()?;
        Some(v)
    }
}

impl AsRef<[u8]> for PooledBuf {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl MessageBuf for PooledBuf {
    fn from_parts(parts: &[&[u8]]) -> Option<Self> {
        let mut v = Self::take_vec(parts.iter().map(|p| p.len()).sum())?;
        for p in parts {
            v.extend_from_slice(p);
        }
        Some(PooledBuf(v))
    }

    fn append(&mut self, bytes: &[u8]) -> bool {
        if self.0.try_reserve(bytes.len()).is_err() {
            return false;
        }
        self.0.extend_from_slice(bytes);
        true
    }

    fn with_capacity(len: usize) -> Option<Self> {
        Self::take_vec(len).map(PooledBuf)
    }
}

impl Drop for PooledBuf {
    fn drop(&mut self) {
        // Checked before locking: most large or never-filled buffers skip the lock.
        let cap = self.0.capacity();
        if cap == 0 || cap > MAX_POOLED {
            return;
        }
        free_list().give(std::mem::take(&mut self.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The process's free list is shared with every other test that drives an engine, in
    // parallel, so what it hands out next is not predictable there: the list's own
    // behaviour is tested on lists these tests own.

    #[test]
    fn a_returned_buffer_is_taken_again_emptied_last_in_first_out() {
        let mut list = FreeList::new();
        let first = b"props and a longer body than before".to_vec();
        let second = b"another".to_vec();
        let (first_ptr, second_ptr) = (first.as_ptr(), second.as_ptr());
        let kept = first.capacity() + second.capacity();
        list.give(first);
        list.give(second);
        assert_eq!(list.bytes, kept);
        let again = list.take();
        assert_eq!(again.as_ptr(), second_ptr, "the last one given, reused");
        assert!(again.is_empty());
        let again = list.take();
        assert_eq!(again.as_ptr(), first_ptr, "then the one before it");
        assert!(again.is_empty() && again.capacity() >= 35);
        assert_eq!(list.bytes, 0);
        // An empty list hands out a new buffer that has not allocated.
        assert_eq!(list.take().capacity(), 0);
    }

    #[test]
    fn large_buffers_are_freed_and_the_list_stays_bounded() {
        let mut list = FreeList::new();
        list.give(vec![0u8; MAX_POOLED + 1]);
        assert!(list.bufs.is_empty(), "larger than MAX_POOLED: freed");
        for _ in 0..200 {
            list.give(vec![7u8; 60 << 10]);
        }
        assert!(list.bytes <= POOL_BYTES, "{} bytes pooled", list.bytes);
        assert!(
            list.bytes + (60 << 10) > POOL_BYTES,
            "filled up to the bound"
        );
        assert_eq!(
            list.bytes,
            list.bufs.iter().map(Vec::capacity).sum::<usize>()
        );
        assert!(list
            .bufs
            .iter()
            .all(|b| b.capacity() <= MAX_POOLED && b.is_empty()));
    }

    #[test]
    fn pooled_buffers_hold_exactly_the_new_parts() {
        let a = PooledBuf::from_parts(&[b"props", b"a longer body than before"]).unwrap();
        drop(a);
        // Whichever buffer the shared list hands out, it holds only the new parts.
        let b = PooledBuf::from_parts(&[b"p", b"short"]).unwrap();
        assert_eq!(b.as_ref(), b"pshort");
        let mut c = b.clone();
        assert!(c.append(b"!"));
        assert_eq!(c.as_ref(), b"pshort!");
        assert_eq!(b.as_ref(), b"pshort");
        drop((b, c));
        // Built piece by piece: also from the pool, empty, and growing past its hint.
        let mut d = <PooledBuf as MessageBuf>::with_capacity(4).unwrap();
        assert!(d.as_ref().is_empty());
        assert!(d.append(b"abc") && d.append(&[b'x'; 100]));
        assert_eq!(d.as_ref().len(), 103);
        assert_eq!(&d.as_ref()[..4], b"abcx");
    }
}

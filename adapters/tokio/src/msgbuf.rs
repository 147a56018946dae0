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

struct FreeList {
    bufs: Vec<Vec<u8>>,
    bytes: usize,
}

static FREE: Mutex<FreeList> = Mutex::new(FreeList {
    bufs: Vec::new(),
    bytes: 0,
});

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
        let mut v = {
            let mut f = free_list();
            let v = f.bufs.pop().unwrap_or_default();
            f.bytes -= v.capacity();
            v
        };
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
        let cap = self.0.capacity();
        if cap == 0 || cap > MAX_POOLED {
            return;
        }
        let mut v = std::mem::take(&mut self.0);
        v.clear();
        let mut f = free_list();
        if f.bytes + cap <= POOL_BYTES {
            f.bytes += cap;
            f.bufs.push(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The free list is the process's: these tests take turns with it.
    static TURN: Mutex<()> = Mutex::new(());

    #[test]
    fn a_dropped_buffer_is_reused_and_holds_exactly_the_new_parts() {
        let _turn = TURN.lock().unwrap_or_else(PoisonError::into_inner);
        let a = PooledBuf::from_parts(&[b"props", b"a longer body than before"]).unwrap();
        let ptr = a.0.as_ptr();
        drop(a);
        let b = PooledBuf::from_parts(&[b"p", b"short"]).unwrap();
        assert_eq!(b.as_ref(), b"pshort");
        assert_eq!(b.0.as_ptr(), ptr, "the same allocation, reused");
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

    #[test]
    fn large_buffers_are_freed_and_the_pool_stays_bounded() {
        let _turn = TURN.lock().unwrap_or_else(PoisonError::into_inner);
        let big = PooledBuf::from_parts(&[&vec![0u8; MAX_POOLED + 1]]).unwrap();
        drop(big);
        let kept: Vec<PooledBuf> = (0..200)
            .map(|_| PooledBuf::from_parts(&[&[7u8; 60 << 10]]).unwrap())
            .collect();
        drop(kept);
        let f = free_list();
        assert!(f.bytes <= POOL_BYTES, "{} bytes pooled", f.bytes);
        assert_eq!(f.bytes, f.bufs.iter().map(Vec::capacity).sum::<usize>());
        assert!(f
            .bufs
            .iter()
            .all(|b| b.capacity() <= MAX_POOLED && b.is_empty()));
    }
}

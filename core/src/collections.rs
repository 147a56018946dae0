//! The one collection abstraction decoded bodies are written against, so each body
//! decoder exists once and serves both a fixed-capacity (no allocator) and a growable
//! (`alloc`) form.
//!
//! ```
//! use rocketmq_proto::collections::{Collections, Fixed, List};
//! let mut l = <Fixed<2> as Collections>::List::<u8>::default();
//! assert!(l.try_push(1).is_ok());
//! assert!(l.try_push(2).is_ok());
//! assert_eq!(l.try_push(3), Err(3));
//! assert_eq!(&l[..], &[1, 2]);
//! ```

use core::fmt::Debug;
use core::ops::{Deref, DerefMut};

/// A list that may refuse to grow.
pub trait List<T>: Default + Deref<Target = [T]> + DerefMut {
    /// Append, or give the value back when full.
    fn try_push(&mut self, value: T) -> Result<(), T>;
    /// Remove and return the element at `index`, shifting the rest (order kept).
    fn remove_at(&mut self, index: usize) -> Option<T>;
    /// Remove and return the element at `index`, moving the last one into its place
    /// (O(1); order not kept).
    fn swap_remove_at(&mut self, index: usize) -> Option<T>;
    /// Keep only the elements `keep` accepts (order kept).
    fn retain_where(&mut self, keep: impl FnMut(&T) -> bool);
    /// Whether the next `try_push` would certainly be refused (a fixed list at
    /// capacity; a growable one only at its byte cap).
    fn is_full(&self) -> bool;
    /// The most elements a list of this type can ever hold (`usize::MAX` for a
    /// growable one). A constant: code that only serves a list of bound 0 (a
    /// [`Tailored`] device's `Extras` when it turns those features off) compiles away
    /// where it checks this first.
    const BOUND: usize = usize::MAX;
}

impl<T, const N: usize> List<T> for heapless::Vec<T, N> {
    fn try_push(&mut self, value: T) -> Result<(), T> {
        self.push(value)
    }
    fn remove_at(&mut self, index: usize) -> Option<T> {
        (index < self.len()).then(|| self.remove(index))
    }
    fn swap_remove_at(&mut self, index: usize) -> Option<T> {
        (index < self.len()).then(|| self.swap_remove(index))
    }
    fn retain_where(&mut self, keep: impl FnMut(&T) -> bool) {
        // Size builds: one copy of the loop per element type, not one per closure
        // (there are dozens of closures; an indirect call per element is cheap there).
        #[cfg(rmq_size_opt)]
        {
            let mut keep = keep;
            retain_erased(self, &mut keep);
        }
        #[cfg(not(rmq_size_opt))]
        self.retain(keep)
    }
    fn is_full(&self) -> bool {
        heapless::Vec::is_full(self)
    }
    const BOUND: usize = N;
}

/// [`heapless::Vec::retain`] through a `dyn` predicate (see `retain_where`).
#[cfg(rmq_size_opt)]
#[inline(never)]
fn retain_erased<T, const N: usize>(v: &mut heapless::Vec<T, N>, keep: &mut dyn FnMut(&T) -> bool) {
    v.retain(keep)
}

/// The most memory one growable list may take: the default frame limit. A body can
/// never legitimately need more, and hostile input (a 16 MiB frame of one-byte list
/// elements decodes to far larger `Text` arrays) must not make an allocation past it.
pub const GROWABLE_MAX_BYTES: usize = crate::frame::DEFAULT_MAX_FRAME as usize;

#[cfg(feature = "alloc")]
impl<T> List<T> for alloc::vec::Vec<T> {
    fn try_push(&mut self, value: T) -> Result<(), T> {
        let max_len = GROWABLE_MAX_BYTES / core::mem::size_of::<T>().max(1);
        if self.len() >= max_len {
            return Err(value);
        }
        if self.len() == self.capacity() {
            // Double as `Vec` would, but never past `max_len`.
            let target = self.capacity().saturating_mul(2).clamp(4, max_len);
            if self.try_reserve_exact(target - self.len()).is_err() {
                return Err(value);
            }
        }
        self.push(value);
        Ok(())
    }
    fn remove_at(&mut self, index: usize) -> Option<T> {
        (index < self.len()).then(|| self.remove(index))
    }
    fn swap_remove_at(&mut self, index: usize) -> Option<T> {
        (index < self.len()).then(|| self.swap_remove(index))
    }
    fn retain_where(&mut self, keep: impl FnMut(&T) -> bool) {
        self.retain(keep)
    }
    fn is_full(&self) -> bool {
        self.len() >= GROWABLE_MAX_BYTES / core::mem::size_of::<T>().max(1)
    }
}

/// A family of list types used by decoded bodies and the engine's tables.
///
/// The engine's tables whose entries each hold a message buffer have their own list
/// types, so a small device can size them apart from the rest (see [`Tailored`]):
/// with 4 KiB message buffers every such entry costs at least 4 KiB of RAM.
pub trait Collections: Debug + Clone + PartialEq + Eq + 'static {
    /// The list type for elements `T`.
    type List<T: Debug + Clone + PartialEq + Eq>: List<T> + Debug + Clone + PartialEq + Eq;
    /// The engine's sends in progress (each holds the message).
    type Sends<T: Debug + Clone + PartialEq + Eq>: List<T> + Debug + Clone + PartialEq + Eq;
    /// The engine's delivered batches waiting for their ack (each holds a pull answer).
    type Batches<T: Debug + Clone + PartialEq + Eq>: List<T> + Debug + Clone + PartialEq + Eq;
    /// The engine's calls, request-reply requests, broker-forwarded messages (each
    /// holds a message buffer) and transactions (END_TRANSACTION requests and broker
    /// checks): none on a device that uses none of them.
    type Extras<T: Debug + Clone + PartialEq + Eq>: List<T> + Debug + Clone + PartialEq + Eq;
    /// The capacity of each list (`u32::MAX` for growable ones), for error reports.
    const CAPACITY: u32;
}

/// Fixed capacity: every list holds at most `N` elements (`heapless::Vec`). No allocator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Fixed<const N: usize>;

impl<const N: usize> Collections for Fixed<N> {
    type List<T: Debug + Clone + PartialEq + Eq> = heapless::Vec<T, N>;
    type Sends<T: Debug + Clone + PartialEq + Eq> = heapless::Vec<T, N>;
    type Batches<T: Debug + Clone + PartialEq + Eq> = heapless::Vec<T, N>;
    type Extras<T: Debug + Clone + PartialEq + Eq> = heapless::Vec<T, N>;
    const CAPACITY: u32 = N as u32;
}

/// Fixed capacities chosen per kind of table, for a device counting bytes: `N`
/// entries in every list, but `SENDS` sends in progress, `BATCHES` delivered batches
/// and `EXTRAS` calls / request-reply requests / broker-forwarded messages /
/// transactions (0 turns those features off: their calls are refused as full, and
/// broker checks are dropped).
///
/// ```
/// use rocketmq_proto::collections::{Collections, Tailored};
/// // Eight of everything, one send at a time, two batches, no extras.
/// type Device = Tailored<8, 1, 2, 0>;
/// assert_eq!(<Device as Collections>::CAPACITY, 8);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tailored<const N: usize, const SENDS: usize, const BATCHES: usize, const EXTRAS: usize>;

impl<const N: usize, const SENDS: usize, const BATCHES: usize, const EXTRAS: usize> Collections
    for Tailored<N, SENDS, BATCHES, EXTRAS>
{
    type List<T: Debug + Clone + PartialEq + Eq> = heapless::Vec<T, N>;
    type Sends<T: Debug + Clone + PartialEq + Eq> = heapless::Vec<T, SENDS>;
    type Batches<T: Debug + Clone + PartialEq + Eq> = heapless::Vec<T, BATCHES>;
    type Extras<T: Debug + Clone + PartialEq + Eq> = heapless::Vec<T, EXTRAS>;
    const CAPACITY: u32 = N as u32;
}

/// Growable lists (`alloc::vec::Vec`), each at most [`GROWABLE_MAX_BYTES`] large.
#[cfg(feature = "alloc")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Growable;

#[cfg(feature = "alloc")]
impl Collections for Growable {
    type List<T: Debug + Clone + PartialEq + Eq> = alloc::vec::Vec<T>;
    type Sends<T: Debug + Clone + PartialEq + Eq> = alloc::vec::Vec<T>;
    type Batches<T: Debug + Clone + PartialEq + Eq> = alloc::vec::Vec<T>;
    type Extras<T: Debug + Clone + PartialEq + Eq> = alloc::vec::Vec<T>;
    const CAPACITY: u32 = u32::MAX;
}

/// Push or report which list overflowed.
pub fn push<C: Collections, T: Debug + Clone + PartialEq + Eq>(
    list: &mut C::List<T>,
    value: T,
    what: &'static str,
) -> Result<(), crate::error::DecodeError> {
    list.try_push(value)
        .map_err(|_| crate::error::DecodeError::CapacityExceeded {
            what,
            capacity: C::CAPACITY,
        })
}

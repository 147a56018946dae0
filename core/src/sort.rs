//! The crate's one in-place sort.
//!
//! With `alloc` (servers, desktops: lists may be long) it is `slice::sort_unstable_by`.
//! Without it the lists are fixed-capacity and short, and core's pattern-defeating
//! quicksort costs a microcontroller about 2 KiB of flash per element type sorted; a
//! heapsort does the same job in O(n log n), without a buffer or recursion, in a couple
//! of hundred bytes.

use core::cmp::Ordering;

/// Sort `v` by `cmp`, like `slice::sort_unstable_by` (the order of elements that compare
/// equal is unspecified).
#[inline]
pub(crate) fn sort_unstable_by<T>(v: &mut [T], cmp: impl FnMut(&T, &T) -> Ordering) {
    #[cfg(feature = "alloc")]
    v.sort_unstable_by(cmp);
    #[cfg(not(feature = "alloc"))]
    heapsort(v, cmp);
}

/// Heapsort (the max-heap is built over the whole slice, then its top is swapped to
/// the end of a shrinking prefix).
#[cfg(any(test, not(feature = "alloc")))]
fn heapsort<T>(v: &mut [T], mut cmp: impl FnMut(&T, &T) -> Ordering) {
    let len = v.len();
    // Steps len + len/2 - 1 down to len build the heap (sifting down nodes len/2 - 1 ..= 0);
    // steps len - 1 down to 0 move the top to position i and restore the heap on 0..i.
    for i in (0..len.saturating_add(len / 2)).rev() {
        let (mut node, end) = if i >= len {
            (i - len, len)
        } else {
            swap(v, 0, i);
            (0, i)
        };
        loop {
            let mut child = 2 * node + 1;
            if child >= end {
                break;
            }
            if child + 1 < end {
                if let (Some(a), Some(b)) = (v.get(child), v.get(child + 1)) {
                    if cmp(a, b) == Ordering::Less {
                        child += 1;
                    }
                }
            }
            let (Some(parent), Some(c)) = (v.get(node), v.get(child)) else {
                break;
            };
            if cmp(parent, c) != Ordering::Less {
                break;
            }
            swap(v, node, child);
            node = child;
        }
    }
}

/// `v.swap(a, b)`, without a panic path (both are always in bounds here).
#[cfg(any(test, not(feature = "alloc")))]
fn swap<T>(v: &mut [T], a: usize, b: usize) {
    if a < v.len() && b < v.len() {
        v.swap(a, b);
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    proptest! {
        #[test]
        fn heapsort_sorts_like_the_slice_sort(mut v in proptest::collection::vec(any::<u16>(), 0..300)) {
            let mut want = v.clone();
            want.sort_unstable();
            heapsort(&mut v, Ord::cmp);
            prop_assert_eq!(v, want);
        }

        #[test]
        fn heapsort_by_key_keeps_every_element(v in proptest::collection::vec((0u8..8, any::<u32>()), 0..200)) {
            // Sorting by the first field only: keys come out in order, and the pairs
            // are a permutation of the input.
            let mut got = v.clone();
            heapsort(&mut got, |a, b| a.0.cmp(&b.0));
            prop_assert!(got.windows(2).all(|w| w[0].0 <= w[1].0));
            let (mut a, mut b) = (got.clone(), v.clone());
            a.sort_unstable();
            b.sort_unstable();
            prop_assert_eq!(a, b);
        }

        #[test]
        fn sort_unstable_by_matches_either_build(mut v in proptest::collection::vec(any::<i32>(), 0..100)) {
            let mut want = v.clone();
            want.sort_unstable_by(|a, b| b.cmp(a));
            sort_unstable_by(&mut v, |a, b| b.cmp(a));
            prop_assert_eq!(v, want);
        }
    }

    #[test]
    fn small_and_degenerate_inputs() {
        let mut empty: [u8; 0] = [];
        heapsort(&mut empty, Ord::cmp);
        let mut one = [7u8];
        heapsort(&mut one, Ord::cmp);
        assert_eq!(one, [7]);
        let mut same = [3u8; 17];
        heapsort(&mut same, Ord::cmp);
        assert_eq!(same, [3; 17]);
        let mut desc: Vec<u32> = (0..64).rev().collect();
        heapsort(&mut desc, Ord::cmp);
        assert_eq!(desc, (0..64).collect::<Vec<_>>());
    }
}

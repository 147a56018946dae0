//! NameServer addresses and selection, as Java does it (behaviour.md §1.4).
//!
//! - A new address list that differs from the current one is shuffled; if the chosen
//!   address is no longer in it, the choice is cleared.
//! - Selection is sticky: requests go to the chosen NameServer while its connection is
//!   healthy. After a failure (connect error, send error, timeout) the next request
//!   rotates to the next address.
//! - A failed route query may be retried once on the next NameServer (Go's behaviour;
//!   compatible with Java): [`NameServers::rotate`].
//!
//! Randomness is injected (`rng`), so selection is deterministic under test.
//!
//! ```
//! use rocketmq_proto::engine::namesrv::NameServers;
//! let mut rng = || 0u32;
//! let mut ns: NameServers<4> = NameServers::new(&mut rng);
//! ns.set_addresses("10.0.0.1:9876;10.0.0.2:9876", &mut rng).unwrap();
//! let first = ns.choose().unwrap().to_owned();
//! assert_eq!(ns.choose().unwrap(), first);      // sticky
//! ns.mark_failed(&first);                        // its connection broke
//! assert_ne!(ns.choose().unwrap(), first);       // the next request rotates
//! ```

use crate::error::EncodeError;

/// Longest address kept (`host:port`; DNS names can be long).
pub const ADDR_CAPACITY: usize = 128;

/// One address.
pub type Addr = heapless::String<ADDR_CAPACITY>;

/// Up to `N` NameServer addresses and the current choice.
#[derive(Debug, Clone)]
pub struct NameServers<const N: usize> {
    addrs: heapless::Vec<Addr, N>,
    chosen: Option<usize>,
    index: u32,
}

impl<const N: usize> NameServers<N> {
    /// No addresses yet; the rotation index starts at a random value in [0, 999) as in
    /// Java.
    pub fn new(rng: &mut impl FnMut() -> u32) -> Self {
        NameServers {
            addrs: heapless::Vec::new(),
            chosen: None,
            index: rng() % 999,
        }
    }

    /// Replace the list from `host:port;host:port` (empty entries and surrounding
    /// spaces ignored). An unchanged set keeps order and choice; a changed one is
    /// shuffled, and the choice is kept only if still present.
    pub fn set_addresses(
        &mut self,
        list: &str,
        rng: &mut impl FnMut() -> u32,
    ) -> Result<(), EncodeError> {
        let mut new: heapless::Vec<Addr, N> = heapless::Vec::new();
        for a in list.split(';').map(str::trim).filter(|a| !a.is_empty()) {
            if new.iter().any(|x| x == a) {
                continue;
            }
            let addr = Addr::try_from(a).map_err(|_| EncodeError::ValueOutOfRange {
                field: "NameServer address",
            })?;
            new.push(addr).map_err(|_| EncodeError::CapacityExceeded {
                what: "NameServer addresses",
                capacity: N as u32,
            })?;
        }
        let same = new.len() == self.addrs.len() && new.iter().all(|a| self.addrs.contains(a));
        if same {
            return Ok(());
        }
        // Fisher–Yates with the injected randomness.
        for i in (1..new.len()).rev() {
            let j = rng() as usize % (i + 1);
            new.swap(i, j);
        }
        let chosen = self
            .chosen
            .and_then(|c| self.addrs.get(c))
            .and_then(|old| new.iter().position(|a| a == old));
        self.addrs = new;
        self.chosen = chosen;
        Ok(())
    }

    /// The addresses, in selection order.
    pub fn addresses(&self) -> impl Iterator<Item = &str> {
        self.addrs.iter().map(Addr::as_str)
    }

    /// Whether no address is configured.
    pub fn is_empty(&self) -> bool {
        self.addrs.is_empty()
    }

    /// The NameServer for the next request: the chosen one while healthy, else the next
    /// in rotation (which becomes the choice).
    pub fn choose(&mut self) -> Option<&str> {
        if self.addrs.is_empty() {
            return None;
        }
        let c = match self.chosen {
            Some(c) if c < self.addrs.len() => c,
            _ => {
                self.index = self.index.wrapping_add(1);
                let c = self.index as usize % self.addrs.len();
                self.chosen = Some(c);
                c
            }
        };
        self.addrs.get(c).map(Addr::as_str)
    }

    /// The connection to `addr` failed or a request to it timed out: the next request
    /// goes elsewhere.
    pub fn mark_failed(&mut self, addr: &str) {
        if self
            .chosen
            .and_then(|c| self.addrs.get(c))
            .is_some_and(|a| a == addr)
        {
            self.chosen = None;
        }
    }

    /// Mark `failed` as failed and choose the next address for a retry; `None` if
    /// there is no other address.
    pub fn rotate(&mut self, failed: &str) -> Option<&str> {
        self.mark_failed(failed);
        if self.addrs.len() < 2 {
            return None;
        }
        if self.choose()? == failed {
            // Nothing was chosen before and the rotation landed on the failed one.
            self.chosen = None;
        }
        self.choose()
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::String;
    use std::vec::Vec;

    fn seq(values: &[u32]) -> impl FnMut() -> u32 + '_ {
        let mut i = 0;
        move || {
            let v = values.get(i % values.len()).copied().unwrap_or(0);
            i += 1;
            v
        }
    }

    #[test]
    fn sticky_then_rotates_over_every_address_on_failures() {
        let mut rng = seq(&[5, 1, 0, 2]);
        let mut ns: NameServers<4> = NameServers::new(&mut rng);
        ns.set_addresses(" a:1 ; b:2;c:3;;a:1", &mut rng).unwrap();
        assert_eq!(ns.addresses().count(), 3);
        let mut seen = Vec::new();
        for _ in 0..3 {
            let a = String::from(ns.choose().unwrap());
            assert_eq!(ns.choose().unwrap(), a, "sticky while healthy");
            ns.mark_failed(&a);
            seen.push(a);
        }
        seen.sort();
        assert_eq!(
            seen,
            ["a:1", "b:2", "c:3"],
            "each failure moves to the next address"
        );
    }

    #[test]
    fn changed_list_keeps_a_surviving_choice_and_drops_a_removed_one() {
        let mut rng = seq(&[3, 2, 1]);
        let mut ns: NameServers<4> = NameServers::new(&mut rng);
        ns.set_addresses("a:1;b:2", &mut rng).unwrap();
        let chosen = String::from(ns.choose().unwrap());
        ns.set_addresses("b:2;a:1", &mut rng).unwrap(); // same set: no change
        assert_eq!(ns.choose().unwrap(), chosen);
        let other = if chosen == "a:1" { "b:2" } else { "a:1" };
        ns.set_addresses(&std::format!("{chosen};c:3"), &mut rng)
            .unwrap();
        assert_eq!(ns.choose().unwrap(), chosen, "still present: kept");
        ns.set_addresses(&std::format!("{other};c:3"), &mut rng)
            .unwrap();
        assert_ne!(ns.choose().unwrap(), chosen, "removed: choice cleared");
        assert!(ns.rotate("x:9").is_some());
        let mut single: NameServers<2> = NameServers::new(&mut rng);
        single.set_addresses("only:1", &mut rng).unwrap();
        assert_eq!(single.rotate("only:1"), None);
        assert!(matches!(
            single.set_addresses("a:1;b:2;c:3", &mut rng),
            Err(EncodeError::CapacityExceeded { .. })
        ));
    }
}

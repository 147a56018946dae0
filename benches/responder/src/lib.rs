//! A counting global allocator for the allocation benchmarks (`alloc_per_send`,
//! `alloc_per_consume`): every allocation of every thread is counted; while
//! [`measure`] is on, also by size; while sampling is armed ([`sample_every`]), a
//! backtrace of every n-th one.
//!
//! Each binary installs it:
//!
//! ```ignore
//! #[global_allocator]
//! static GLOBAL: rmq_bench_responder::Counting = rmq_bench_responder::Counting;
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

/// Counts, then hands over to the system allocator.
pub struct Counting;

pub static ALLOCS: AtomicU64 = AtomicU64::new(0);
pub static REALLOCS: AtomicU64 = AtomicU64::new(0);
pub static BYTES: AtomicU64 = AtomicU64::new(0);

// Allocations of the measured phase by size, in powers of two (bucket k: sizes in
// (2^(k-1), 2^k]): unbiased where the backtrace sample (every n-th allocation) can
// alias with a periodic pattern of allocations.
static MEASURING: AtomicBool = AtomicBool::new(false);
static BY_SIZE: [AtomicU64; 33] = [const { AtomicU64::new(0) }; 33];

fn count_size(size: usize) {
    if MEASURING.load(Ordering::Relaxed) {
        let k = (usize::BITS - size.saturating_sub(1).leading_zeros()).min(32) as usize;
        BY_SIZE[k].fetch_add(1, Ordering::Relaxed);
    }
}

// Backtrace sampling: every SAMPLE_EVERY-th allocation while SAMPLING is on.
static SAMPLING: AtomicBool = AtomicBool::new(false);
static SAMPLE_EVERY: AtomicU64 = AtomicU64::new(u64::MAX);
static SAMPLES_LEFT: AtomicUsize = AtomicUsize::new(0);
static SAMPLES: Mutex<Vec<(usize, String)>> = Mutex::new(Vec::new());

thread_local! {
    static IN_SAMPLER: Cell<bool> = const { Cell::new(false) };
}

fn maybe_sample(n: u64, size: usize) {
    if !SAMPLING.load(Ordering::Relaxed) || !n.is_multiple_of(SAMPLE_EVERY.load(Ordering::Relaxed))
    {
        return;
    }
    let _ = IN_SAMPLER.try_with(|s| {
        if s.get() {
            return;
        }
        s.set(true);
        if SAMPLES_LEFT
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |l| l.checked_sub(1))
            .is_ok()
        {
            let bt = std::backtrace::Backtrace::force_capture().to_string();
            SAMPLES.lock().unwrap().push((size, bt));
        }
        s.set(false);
    });
}

/// The sampler's own allocations (capturing a backtrace allocates) are not counted.
fn in_sampler() -> bool {
    IN_SAMPLER.try_with(Cell::get).unwrap_or(true)
}

fn count(size: usize) {
    if in_sampler() {
        return;
    }
    let n = ALLOCS.fetch_add(1, Ordering::Relaxed);
    BYTES.fetch_add(size as u64, Ordering::Relaxed);
    count_size(size);
    maybe_sample(n, size);
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        System.alloc_zeroed(layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // A realloc is counted apart: growing a buffer is not a new allocation, but it
        // is a call into the allocator.
        if !in_sampler() {
            REALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        System.realloc(ptr, layout, new_size)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

/// Counters at one moment.
#[derive(Debug, Clone, Copy)]
pub struct Snapshot {
    pub allocs: u64,
    pub reallocs: u64,
    pub bytes: u64,
}

/// The counters now.
pub fn snapshot() -> Snapshot {
    Snapshot {
        allocs: ALLOCS.load(Ordering::Relaxed),
        reallocs: REALLOCS.load(Ordering::Relaxed),
        bytes: BYTES.load(Ordering::Relaxed),
    }
}

/// Count by size (and take armed samples) from now on (`true`) or stop (`false`).
pub fn measure(on: bool) {
    MEASURING.store(on, Ordering::Relaxed);
    SAMPLING.store(
        on && SAMPLES_LEFT.load(Ordering::Relaxed) > 0,
        Ordering::Relaxed,
    );
}

/// Arm sampling: `samples` backtraces, one every `every` allocations while measuring.
pub fn sample_every(every: u64, samples: usize) {
    SAMPLE_EVERY.store(every.max(1), Ordering::Relaxed);
    SAMPLES_LEFT.store(samples, Ordering::Relaxed);
}

/// Allocations counted while measuring, per message, by size class.
pub fn by_size_report(messages: f64) -> String {
    BY_SIZE
        .iter()
        .enumerate()
        .filter_map(|(k, c)| {
            let c = c.load(Ordering::Relaxed);
            (c > 0).then(|| format!("<= {} B: {:.3}", 1u64 << k, c as f64 / messages))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The sampled backtraces, grouped by stack, most frequent first (empty if none).
pub fn samples_report() -> String {
    let samples = std::mem::take(&mut *SAMPLES.lock().unwrap());
    if samples.is_empty() {
        return String::new();
    }
    // Group identical stacks (after trimming the allocator's own frames).
    let mut groups: BTreeMap<String, (usize, Vec<usize>)> = BTreeMap::new();
    for (size, bt) in samples {
        let e = groups.entry(trim(&bt)).or_default();
        e.0 += 1;
        e.1.push(size);
    }
    let mut groups: Vec<_> = groups.into_iter().collect();
    groups.sort_by_key(|g| std::cmp::Reverse(g.1 .0));
    let mut out = format!("\n{} distinct allocation stacks sampled:\n", groups.len());
    for (stack, (count, sizes)) in groups {
        out.push_str(&format!(
            "\n--- {count} sample(s), sizes {sizes:?}\n{stack}\n"
        ));
    }
    out
}

/// The interesting frames of a backtrace: the allocator's own frames and the standard
/// library's allocation machinery dropped (the last std frame before the caller is kept
/// for context, e.g. `Arc::new`), then up to `DEPTH` frames with their source location.
fn trim(bt: &str) -> String {
    const DEPTH: usize = 16;
    // (function, location)
    let mut frames: Vec<(String, String)> = Vec::new();
    let mut lines = bt.lines().peekable();
    while let Some(l) = lines.next() {
        let Some((_, name)) = l.trim().split_once(": ") else {
            continue;
        };
        let mut at = String::new();
        if let Some(n) = lines.peek() {
            if let Some(a) = n.trim().strip_prefix("at ") {
                at = a.to_string();
                lines.next();
            }
        }
        frames.push((name.to_string(), at));
    }
    let is_std = |at: &str| at.contains("/rustc/") || at.contains("/library/") || at.is_empty();
    let is_ours = |at: &str| at.contains("./src/lib.rs") || at.contains("responder/src/lib.rs");
    // skip the sampler and allocator frames at the top
    let mut i = 0;
    while i < frames.len() && (is_ours(&frames[i].1) || is_std(&frames[i].1)) {
        i += 1;
    }
    let from = i
        .saturating_sub(1)
        .max(frames.iter().position(|f| !is_ours(&f.1)).unwrap_or(0));
    let short = |at: &str| {
        for marker in ["/registry/src/", "/library/", "/work/main/"] {
            if let Some((_, r)) = at.rsplit_once(marker) {
                return r.split_once('/').map(|(_, r)| r).unwrap_or(r).to_string();
            }
        }
        at.to_string()
    };
    frames[from..]
        .iter()
        .take(DEPTH)
        .map(|(n, at)| format!("  {n}  ({})", short(at)))
        .collect::<Vec<_>>()
        .join("\n")
}

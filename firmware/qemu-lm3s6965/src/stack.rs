//! How deep the stack went: cortex-m-rt (feature `paint-stack`) fills the stack area
//! with 0xCCCCCCCC before `main`; words still holding it were never used. The stack
//! grows down towards the statics (`_stack_end` is the end of `.bss`/`.uninit`), so a
//! scrubbed first word means it ran into them.

extern "C" {
    static _stack_start: u32;
    static _stack_end: u32;
}

const PAINT: u32 = 0xCCCC_CCCC;

fn bounds() -> (usize, usize) {
    // Only the symbols' addresses are taken (the linker script defines them).
    (
        core::ptr::addr_of!(_stack_end) as usize,
        core::ptr::addr_of!(_stack_start) as usize,
    )
}

/// Bytes of stack used so far, and the stack area's size.
pub fn high_water() -> (usize, usize) {
    let (end, start) = bounds();
    let mut at = end;
    // SAFETY: `end..start` is the RAM of the stack area, word-aligned.
    while at < start && unsafe { core::ptr::read_volatile(at as *const u32) } == PAINT {
        at += 4;
    }
    (start - at, start - end)
}

/// Whether the stack reached the statics below it.
pub fn overflowed() -> bool {
    let (used, size) = high_water();
    used >= size
}

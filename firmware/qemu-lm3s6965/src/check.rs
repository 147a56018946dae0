//! A check's outcome and the macros that end it early.
//!
//! A failure is reported as the check's name and the file and line of the macro that
//! ended it. It carries nothing else, not even the condition's text: a failing site is
//! one 32-bit constant (`Result<(), Fail>` fits in a register), where the text of ~200
//! conditions and a three-word `Fail` at each cost the firmware about 13 KiB of flash.

use core::num::NonZeroU32;

/// The source files whose checks can fail, in the order of the tags in [`Fail`].
const FILES: [&str; 2] = ["src/codec.rs", "src/engine.rs"];

/// Where a check failed: the file's index in [`FILES`] (high 16 bits) and the line.
#[derive(Clone, Copy)]
pub struct Fail(NonZeroU32);

impl Fail {
    /// The failure at `file` (as `file!()` names it) and `line`; evaluated at compile
    /// time by the macros below, so an unknown file or an impossible line fails the
    /// build.
    pub const fn at(file: &str, line: u32) -> Fail {
        let mut i = 0;
        while i < FILES.len() {
            if eq(FILES[i].as_bytes(), file.as_bytes()) {
                assert!(line > 0 && line <= 0xFFFF, "line out of range");
                return match NonZeroU32::new(((i as u32) << 16) | line) {
                    Some(v) => Fail(v),
                    None => panic!("line 0"),
                };
            }
            i += 1;
        }
        panic!("a check in a file missing from check::FILES")
    }

    /// The file and line.
    pub fn location(self) -> (&'static str, u32) {
        let v = self.0.get();
        let file = FILES.get((v >> 16) as usize).copied().unwrap_or("?");
        (file, v & 0xFFFF)
    }
}

const fn eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// `fail!("why")`: fail the check (the reason is for the reader of the source; the
/// report gives its line).
macro_rules! fail {
    ($why:expr) => {
        return Err(const { $crate::check::Fail::at(file!(), line!()) })
    };
}

/// `ensure!(cond)`: fail the check unless `cond` holds.
macro_rules! ensure {
    ($cond:expr) => {
        if !$cond {
            fail!("");
        }
    };
}

/// `tri!(result)`: the value, or fail the check (the error is not printed: its `Debug`
/// form would cost kilobytes of flash; the line is).
macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(err) => {
                let _ = err;
                fail!("");
            }
        }
    };
}

/// `some!(option)`: the value, or fail the check.
macro_rules! some {
    ($e:expr) => {
        match $e {
            Some(v) => v,
            None => fail!(""),
        }
    };
}

//! A check's outcome and the macros that end it early.

/// Why a check failed, and where.
pub struct Fail {
    pub what: &'static str,
    pub file: &'static str,
    pub line: u32,
}

/// `fail!("why")`: fail the check.
macro_rules! fail {
    ($what:expr) => {
        return Err($crate::check::Fail {
            what: $what,
            file: file!(),
            line: line!(),
        })
    };
}

/// `ensure!(cond)`: fail the check with the condition's text unless it holds.
macro_rules! ensure {
    ($cond:expr) => {
        if !$cond {
            return Err($crate::check::Fail {
                what: stringify!($cond),
                file: file!(),
                line: line!(),
            });
        }
    };
}

/// `tri!(result)`: the value, or fail the check (the error's `Debug` form is not
/// printed: it would cost kilobytes of flash; the expression and line are).
macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(err) => {
                let _ = err;
                return Err($crate::check::Fail {
                    what: stringify!($e),
                    file: file!(),
                    line: line!(),
                });
            }
        }
    };
}

/// `some!(option)`: the value, or fail the check.
macro_rules! some {
    ($e:expr) => {
        match $e {
            Some(v) => v,
            None => {
                return Err($crate::check::Fail {
                    what: stringify!($e),
                    file: file!(),
                    line: line!(),
                })
            }
        }
    };
}

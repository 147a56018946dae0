//! Hex text to bytes at compile time, so the firmware carries the very vectors and
//! captures the host tests use (`include_str!` of `core/tests/data/captures/*.hex`)
//! without a build step or an allocator.

const fn digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Bytes in `s`: its hex digits (anything else, spaces and newlines, is skipped) / 2.
pub const fn len(s: &str) -> usize {
    let b = s.as_bytes();
    let (mut i, mut n) = (0, 0);
    while i < b.len() {
        if digit(b[i]).is_some() {
            n += 1;
        }
        i += 1;
    }
    assert!(n % 2 == 0, "odd number of hex digits");
    n / 2
}

/// The bytes of `s` (`N` must be [`len`]`(s)`).
pub const fn decode<const N: usize>(s: &str) -> [u8; N] {
    let b = s.as_bytes();
    let mut out = [0u8; N];
    let (mut i, mut n, mut high) = (0, 0, None);
    while i < b.len() {
        if let Some(d) = digit(b[i]) {
            match high {
                None => high = Some(d),
                Some(h) => {
                    out[n] = (h << 4) | d;
                    n += 1;
                    high = None;
                }
            }
        }
        i += 1;
    }
    assert!(n == N, "length mismatch");
    out
}

/// `hex!("00 ff")` or `hex!(include_str!(..))`: a `&'static [u8]` built at compile time.
macro_rules! hex {
    ($s:expr) => {{
        const S: &str = $s;
        static B: [u8; $crate::hex::len(S)] = $crate::hex::decode::<{ $crate::hex::len(S) }>(S);
        &B as &'static [u8]
    }};
}

/// A captured frame from `core/tests/data/captures/`, by file stem.
macro_rules! capture {
    ($name:literal) => {
        hex!(include_str!(concat!(
            "../../../core/tests/data/captures/",
            $name,
            ".hex"
        )))
    };
}

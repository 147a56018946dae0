//! Body compression (messages.md §2.4).
//!
//! The Java producer compresses single (non-batch) message bodies of at least
//! [`COMPRESS_OVER_BYTES`] bytes with zlib at level [`DEFAULT_ZLIB_LEVEL`] and marks
//! them in `sysFlag` (`0x301` on 5.x). Consumers choose the algorithm from `sysFlag`
//! bits 8–10. zlib is always available with `alloc`; LZ4 needs the `lz4` feature
//! (which implies `std`, as `lz4_flex`'s frame decoder needs `std::io`); zstd needs the
//! `zstd` feature. A type this build lacks is [`DecodeError::UnsupportedCompression`].
//!
//! Every decompression takes an output limit, so a small hostile body cannot expand
//! without bound: exceeding it is [`DecodeError::CapacityExceeded`].
//!
//! ```
//! # #[cfg(feature = "alloc")] {
//! use rocketmq_proto::message::{compress_zlib, decompress, MessageSysFlag, CompressionType};
//! let body = [b'A'; 5000];
//! let z = compress_zlib(&body, 5);
//! let flag = MessageSysFlag::default().with_compression(CompressionType::Zlib);
//! assert_eq!(decompress(flag, &z, 1 << 20).unwrap(), body);
//! # }
//! ```

#[cfg(feature = "alloc")]
use super::sysflag::{CompressionType, MessageSysFlag};
#[cfg(feature = "alloc")]
use crate::error::DecodeError;
#[cfg(feature = "alloc")]
use alloc::vec::Vec;

/// Java's `compressMsgBodyOverHowmuch`: bodies of at least this many bytes are
/// compressed (note: ≥, not >).
pub const COMPRESS_OVER_BYTES: usize = 4096;
/// Java's default `compressLevel` for zlib.
pub const DEFAULT_ZLIB_LEVEL: u8 = 5;

/// Whether a Java producer would compress a single-message body of `len` bytes.
pub const fn should_compress(len: usize) -> bool {
    len >= COMPRESS_OVER_BYTES
}

/// Decompress a stored or sent body according to `sys_flag`, producing at most
/// `limit` bytes. A body without the compressed bit is returned as is.
#[cfg(feature = "alloc")]
pub fn decompress(
    sys_flag: MessageSysFlag,
    body: &[u8],
    limit: usize,
) -> Result<Vec<u8>, DecodeError> {
    if !sys_flag.is_compressed() {
        return Ok(body.to_vec());
    }
    match sys_flag.compression_type() {
        Ok(t) => decompress_with(t, body, limit),
        Err(v) => Err(DecodeError::UnsupportedCompression(v)),
    }
}

#[cfg(feature = "alloc")]
fn too_large(limit: usize) -> DecodeError {
    DecodeError::CapacityExceeded {
        what: "decompressed body",
        capacity: u32::try_from(limit).unwrap_or(u32::MAX),
    }
}

/// Decompress `body` with algorithm `t`, producing at most `limit` bytes.
#[cfg(feature = "alloc")]
pub fn decompress_with(
    t: CompressionType,
    body: &[u8],
    limit: usize,
) -> Result<Vec<u8>, DecodeError> {
    match t {
        CompressionType::Zlib => {
            use miniz_oxide::inflate::{decompress_to_vec_zlib_with_limit, TINFLStatus};
            decompress_to_vec_zlib_with_limit(body, limit).map_err(|e| match e.status {
                TINFLStatus::HasMoreOutput => too_large(limit),
                _ => DecodeError::Decompress,
            })
        }
        CompressionType::Lz4 => lz4(body, limit),
        CompressionType::Zstd => zstd(body, limit),
    }
}

#[cfg(all(feature = "alloc", feature = "lz4"))]
fn lz4(body: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
    use std::io::Read;
    let dec = lz4_flex::frame::FrameDecoder::new(body);
    // Read one byte past the limit to tell "exactly at the limit" from "over it".
    let mut out = Vec::new();
    dec.take((limit as u64).saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|_| DecodeError::Decompress)?;
    if out.len() > limit {
        return Err(too_large(limit));
    }
    Ok(out)
}

#[cfg(all(feature = "alloc", not(feature = "lz4")))]
fn lz4(_: &[u8], _: usize) -> Result<Vec<u8>, DecodeError> {
    Err(DecodeError::UnsupportedCompression(
        CompressionType::Lz4.value(),
    ))
}

#[cfg(all(feature = "alloc", feature = "zstd"))]
fn zstd(body: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
    use ruzstd::io::Read;
    let mut dec =
        ruzstd::decoding::StreamingDecoder::new(body).map_err(|_| DecodeError::Decompress)?;
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = dec.read(&mut chunk).map_err(|_| DecodeError::Decompress)?;
        if n == 0 {
            return Ok(out);
        }
        if out.len().saturating_add(n) > limit {
            return Err(too_large(limit));
        }
        out.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
}

#[cfg(all(feature = "alloc", not(feature = "zstd")))]
fn zstd(_: &[u8], _: usize) -> Result<Vec<u8>, DecodeError> {
    Err(DecodeError::UnsupportedCompression(
        CompressionType::Zstd.value(),
    ))
}

/// Compress with zlib (RFC 1950 container, as Java's `Deflater(level)`); `level` 0–10,
/// Java's default is [`DEFAULT_ZLIB_LEVEL`]. Mark the message with
/// `MessageSysFlag::with_compression(CompressionType::Zlib)`.
#[cfg(feature = "alloc")]
pub fn compress_zlib(body: &[u8], level: u8) -> Vec<u8> {
    miniz_oxide::deflate::compress_to_vec_zlib(body, level)
}

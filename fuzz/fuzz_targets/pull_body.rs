//! Stored-message records of a pull body: never panic; each decoded record re-encodes to
//! the exact bytes it came from; inner batches, properties, ids and decompression of
//! arbitrary records never panic either.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rocketmq_proto::message::compression::decompress;
use rocketmq_proto::message::record::{self, RecordIter};

fuzz_target!(|data: &[u8]| {
    let mut it = RecordIter::new(data);
    let mut start = 0usize;
    while let Some(Ok(rec)) = it.next() {
        let end = it.offset();
        let mut out = vec![0u8; rec.encoded_len()];
        if record::encode_to_slice(&mut out, &rec).is_ok() {
            assert_eq!(&out[..], &data[start..end], "record re-encodes byte-exact");
        }
        start = end;
        let _ = rec.verify_body_crc();
        let _ = rec.offset_msg_id().to_hex();
        for (k, v) in rec.properties.iter() {
            let _ = (k.len(), v.len());
        }
        let _ = rec.uniq_key();
        if let Some(inner) = rec.inner_messages() {
            for m in inner.take(64) {
                let _ = m.map(|m| m.body.len());
            }
        }
        let _ = decompress(rec.sys_flag, rec.body, 1 << 20);
    }
});

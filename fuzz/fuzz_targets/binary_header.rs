//! The binary (ROCKETMQ) header decoder on arbitrary bytes: never panics; a decoded
//! header re-encodes to bytes that decode to the same fields.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rocketmq_proto::command::{decode_binary_header, write_binary_header};
use rocketmq_proto::ext::ExtFields;

fuzz_target!(|data: &[u8]| {
    if let Ok((header, ext)) = decode_binary_header(data) {
        let fields = ext.unwrap_or(ExtFields::EMPTY);
        let mut out = Vec::new();
        let mut sink = rocketmq_proto::out::BufMutOut(&mut out);
        write_binary_header(&mut sink, &header, &fields).expect("decoded values fit");
        let (h2, e2) = decode_binary_header(&out).expect("re-encoded header decodes");
        assert_eq!(h2, header);
        let a: Vec<_> = e2.unwrap_or(ExtFields::EMPTY).iter().collect();
        let b: Vec<_> = fields.iter().collect();
        assert_eq!(a, b);
    }
});

//! The JSON header decoder (lenient scanner) on arbitrary text: never panics, and the
//! fields of a decoded header iterate and look up without panicking.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rocketmq_proto::command::decode_json_header;

fuzz_target!(|data: &[u8]| {
    if let Ok((header, ext)) = decode_json_header(data) {
        let _ = header.remark.map(|r| r.len());
        if let Some(ext) = ext {
            for (k, v) in ext.iter() {
                let _ = (k.len(), v.parse_i64(), v.parse_bool());
            }
            let _ = ext.get("topic");
        }
    }
});

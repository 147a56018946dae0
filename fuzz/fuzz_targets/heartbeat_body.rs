//! HeartbeatData on arbitrary bytes: never panics; whatever decodes re-encodes to
//! standard JSON that decodes to the same value and re-encodes to the same bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rocketmq_proto::body::{EncodeBody, HeartbeatData};
use rocketmq_proto::collections::Growable;

fuzz_target!(|data: &[u8]| {
    let Ok(hb) = HeartbeatData::<Growable>::decode(data) else { return };
    let json = hb.to_vec();
    let again = HeartbeatData::<Growable>::decode(&json).expect("our own JSON decodes");
    assert_eq!(again, hb);
    assert_eq!(again.to_vec(), json);
});

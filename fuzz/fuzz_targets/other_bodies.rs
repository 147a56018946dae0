//! The remaining JSON bodies on arbitrary bytes (first byte picks one): cluster info,
//! reset offsets (all three forms), consumer id list, topic list, lock request and
//! response, query-assignment request and response. Never panics; encodable ones
//! round-trip.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rocketmq_proto::body::*;
use rocketmq_proto::collections::{Fixed, Growable};

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else { return };
    match which % 8 {
        0 => {
            let _ = ClusterInfo::<Growable>::decode(body);
            let _ = ClusterInfo::<Fixed<4>>::decode(body);
        }
        1 => {
            let _ = ResetOffsetBody::<Growable>::decode(body);
        }
        2 => {
            let _ = ConsumerIdList::<Fixed<16>>::decode(body);
        }
        3 => {
            let _ = TopicList::<Growable>::decode(body);
        }
        4 => {
            if let Ok(b) = LockBatchRequestBody::<Growable>::decode(body) {
                let json = b.to_vec();
                assert_eq!(LockBatchRequestBody::<Growable>::decode(&json).expect("decodes"), b);
            }
        }
        5 => {
            if let Ok(b) = LockBatchResponseBody::<Growable>::decode(body) {
                let json = b.to_vec();
                assert_eq!(LockBatchResponseBody::<Growable>::decode(&json).expect("decodes"), b);
            }
        }
        6 => {
            if let Ok(b) = QueryAssignmentRequestBody::decode(body) {
                let json = b.to_vec();
                assert_eq!(QueryAssignmentRequestBody::decode(&json).expect("decodes"), b);
            }
        }
        _ => {
            let _ = QueryAssignmentResponseBody::<Growable>::decode(body);
        }
    }
});

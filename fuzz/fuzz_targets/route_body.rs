//! TopicRouteData on arbitrary bytes (fastjson's lenient forms included), in both the
//! fixed-capacity and the growable form: never panics, both forms agree, and queue
//! derivation over whatever decoded never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rocketmq_proto::body::TopicRouteData;
use rocketmq_proto::collections::{Fixed, Growable};

fuzz_target!(|data: &[u8]| {
    let grown = TopicRouteData::<Growable>::decode(data);
    if let Ok(fixed) = TopicRouteData::<Fixed<8>>::decode(data) {
        let grown = grown.as_ref().expect("a fixed decode implies a growable one");
        assert_eq!(fixed.queue_datas.len(), grown.queue_datas.len());
        assert_eq!(fixed.broker_datas.len(), grown.broker_datas.len());
    }
    if let Ok(route) = grown {
        let p = route.publish_queues().take(100_000).count();
        let s = route.subscribe_queues().take(100_000).count();
        let _ = (p, s);
        for b in route.broker_datas.iter() {
            let _ = b.master_addr();
        }
    }
});

//! The properties parser on arbitrary strings: never panics, and what it accepts
//! re-encodes to a string that parses to the same pairs (last value wins).
#![no_main]
use libfuzzer_sys::fuzz_target;
use rocketmq_proto::message::properties::{write_properties, PropertiesView};
use rocketmq_proto::out::BufMutOut;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = core::str::from_utf8(data) else { return };
    let view = PropertiesView::new(s);
    let pairs: Vec<(&str, &str)> = view.iter().collect();
    for (k, v) in &pairs {
        assert!(!k.is_empty() && !v.is_empty());
        assert_eq!(view.get(k), pairs.iter().rev().find(|(k2, _)| k2 == k).map(|(_, v)| *v));
        let _ = v;
    }
    let mut out = Vec::new();
    if write_properties(&mut BufMutOut(&mut out), pairs.iter().copied()).is_ok() {
        let again: Vec<(&str, &str)> =
            PropertiesView::new(core::str::from_utf8(&out).unwrap()).iter().collect();
        assert_eq!(again, pairs);
    }
});

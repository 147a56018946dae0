//! Frame decoder + command decoder on arbitrary bytes, with a small frame limit:
//! never panics; whatever decodes re-encodes (both serializations) to the same command.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rocketmq_proto::codes::SerializeType;
use rocketmq_proto::command::{Command, CommandEncoder};
use rocketmq_proto::frame::{Decoded, FrameDecoder};

fuzz_target!(|data: &[u8]| {
    let dec = FrameDecoder::with_max_frame(64 * 1024);
    let mut rest = data;
    // Feed a stream: frame after frame until an error or need-more.
    while let Ok(Decoded::Frame { frame, consumed }) = dec.decode(rest) {
        assert!(consumed >= 8 && consumed <= rest.len());
        if let Ok(cmd) = Command::decode(frame) {
            check_reencode(&cmd);
        }
        rest = &rest[consumed..];
    }
});

fn check_reencode(cmd: &Command<'_>) {
    for ser in [SerializeType::Json, SerializeType::RocketMq] {
        let enc = CommandEncoder::new(ser);
        let Ok(len) = enc.frame_len(&cmd.header, &cmd.fields(), cmd.body) else {
            continue; // e.g. a code that does not fit a binary header
        };
        let mut out = vec![0u8; len];
        let n = enc
            .encode(&mut out, &cmd.header, &cmd.fields(), cmd.body)
            .expect("sized buffer");
        assert_eq!(n, len);
        let Ok(Decoded::Frame { frame, consumed }) = FrameDecoder::new().decode(&out) else {
            panic!("re-encoded frame does not decode");
        };
        assert_eq!(consumed, n);
        let again = Command::decode(frame).expect("re-encoded command decodes");
        assert_eq!(again.header.code, cmd.header.code);
        assert_eq!(again.header.opaque, cmd.header.opaque);
        assert_eq!(again.header.flag, cmd.header.flag);
        assert_eq!(again.body, cmd.body);
        let a: Vec<_> = again.fields().iter().collect();
        let b: Vec<_> = cmd
            .fields()
            .iter()
            .filter(|(k, v)| ser == SerializeType::Json || (!k.is_empty() && !v.is_empty()))
            .collect();
        assert_eq!(a, b);
    }
}

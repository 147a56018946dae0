//! The client engine driven by arbitrary sequences of: application sends, connection
//! opens and closes, well-formed answers (built from what the client actually wrote,
//! with fuzzed codes and bodies), raw garbage bytes, and time jumps.
//! Invariants: no panic; every send ends exactly once; after the last deadline has
//! passed nothing is left pending.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rocketmq_proto::codes::{RequestCode, ResponseCode, SerializeType};
use rocketmq_proto::collections::Fixed;
use rocketmq_proto::command::{Command, CommandEncoder, Header};
use rocketmq_proto::engine::client::{Client, Config, Event, Message};
use rocketmq_proto::engine::client_id::{ClientId, InstanceName};
use rocketmq_proto::engine::{ConnId, Instant};
use rocketmq_proto::ext::NoFields;
use rocketmq_proto::frame::{Decoded, FrameDecoder};
use rocketmq_proto::message::UniqKeyGenerator;
use rocketmq_proto::producer::retry::SendMode;
use std::collections::BTreeMap;

type C = Client<Fixed<8>, heapless::Vec<u8, 512>, 32>;

const ROUTE: &[u8] = br#"{"brokerDatas":[{"brokerAddrs":{0:"127.0.0.1:10911"},"brokerName":"a","cluster":"c"},{"brokerAddrs":{"0":"127.0.0.1:20911"},"brokerName":"b","cluster":"c"}],"queueDatas":[{"brokerName":"a","perm":6,"readQueueNums":2,"writeQueueNums":2},{"brokerName":"b","perm":6,"readQueueNums":2,"writeQueueNums":2}]}"#;

fuzz_target!(|data: &[u8]| {
    let id = ClientId::build("127.0.0.1", InstanceName::Process { pid: 1, nonce: 2 }, None).unwrap();
    let uniq = UniqKeyGenerator::new("127.0.0.1".parse().unwrap(), 1, 0);
    let mut c = C::new(Config::new(id), uniq, 7, Instant::from_millis(0));
    c.set_namesrv("127.0.0.1:9876;127.0.0.2:9876").unwrap();
    c.register_producer("PG").unwrap();

    let mut now = 0u64;
    let mut conns: Vec<ConnId> = Vec::new();
    let mut written: Vec<(ConnId, Vec<u8>)> = Vec::new();
    let mut started: BTreeMap<u32, u64> = BTreeMap::new(); // send id -> deadline
    let mut ended: BTreeMap<u32, u32> = BTreeMap::new();
    let mut buf = vec![0u8; 8192];
    let mut input = data.iter().copied();

    let mut drain = |c: &mut C, now: u64, conns: &mut Vec<ConnId>, written: &mut Vec<(ConnId, Vec<u8>)>, ended: &mut BTreeMap<u32, u32>| {
        while let Ok(Some(t)) = c.poll_transmit(Instant::from_millis(now), &mut buf) {
            written.push((t.conn, buf[..t.len].to_vec()));
        }
        while let Some(e) = c.poll_event() {
            match e {
                Event::Connect { conn, .. } => conns.push(conn),
                Event::SendOk { id, .. } | Event::SendFailed { id, .. } => {
                    *ended.entry(id.0).or_default() += 1;
                }
                _ => {}
            }
        }
        if written.len() > 64 {
            written.drain(..32);
        }
    };

    while let Some(op) = input.next() {
        let arg = input.next().unwrap_or(0);
        match op % 7 {
            0 | 1 => {
                let mode = if op % 7 == 0 { SendMode::Sync } else { SendMode::Oneway };
                let topic = ["TopicA", "TopicB", "bad topic"][arg as usize % 3];
                let msg = Message::new(topic, b"body");
                if let Ok(id) = c.send(Instant::from_millis(now), 1_700_000_000_000, &msg, mode) {
                    started.insert(id.0, now + 3_000);
                }
            }
            2 => {
                if let Some(&conn) = conns.get(arg as usize % conns.len().max(1)) {
                    c.handle_connected(Instant::from_millis(now), conn);
                }
            }
            3 => {
                if !conns.is_empty() {
                    let conn = conns.remove(arg as usize % conns.len());
                    c.handle_closed(Instant::from_millis(now), conn);
                }
            }
            4 => {
                // Answer one written request with a fuzzed code (and a route body for
                // route queries).
                if written.is_empty() {
                    continue;
                }
                let (conn, bytes) = written.remove(arg as usize % written.len());
                let Ok(Decoded::Frame { frame, .. }) = FrameDecoder::new().decode(&bytes) else { continue };
                let Ok(cmd) = Command::decode(frame) else { continue };
                if cmd.header.is_response() || cmd.header.is_oneway() {
                    continue;
                }
                let code = [0, 0, 0, 1, 2, 13, 17, 10, 14][input.next().unwrap_or(0) as usize % 9];
                let body: &[u8] = if cmd.header.request_code() == RequestCode::GET_ROUTEINFO_BY_TOPIC { ROUTE } else { b"" };
                let fields: &[(&str, &str)] = &[("msgId", "7F00000100002A9F0000000000001000"), ("queueId", "1"), ("queueOffset", "5")];
                let enc = CommandEncoder::new(SerializeType::Json);
                let h = Header::response(ResponseCode(code), cmd.header.opaque);
                let mut out = vec![0u8; 4096];
                let n = if arg & 1 == 0 {
                    enc.encode(&mut out, &h, fields, body).unwrap()
                } else {
                    enc.encode(&mut out, &h, &NoFields, body).unwrap()
                };
                let _ = c.handle_input(Instant::from_millis(now), conn, &out[..n]);
            }
            5 => {
                // Raw bytes from the input on some connection.
                let len = (arg as usize) % 64;
                let garbage: Vec<u8> = input.by_ref().take(len).collect();
                if let Some(&conn) = conns.get(len % conns.len().max(1)) {
                    let _ = c.handle_input(Instant::from_millis(now), conn, &garbage);
                }
            }
            _ => {
                now += u64::from(arg) * 37;
                c.handle_timeout(Instant::from_millis(now));
            }
        }
        drain(&mut c, now, &mut conns, &mut written, &mut ended);
    }
    // Let every deadline pass: everything started must have ended, once.
    now += 10_000;
    c.handle_timeout(Instant::from_millis(now));
    drain(&mut c, now, &mut conns, &mut written, &mut ended);
    for (id, _) in &started {
        assert_eq!(ended.get(id).copied().unwrap_or(0), 1, "send {id} must end exactly once");
    }
    assert!(ended.keys().all(|id| started.contains_key(id)));
    assert_eq!(c.pending_sends(), 0);
});

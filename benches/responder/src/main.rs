//! A minimal RocketMQ NameServer + broker on one TCP listener that answers at once, so a
//! benchmark measures the client, not the broker (issue 7, "client-bound ceiling").
//!
//! ```text
//! responder [--port P] [--queues N] [--threads T] [--quiet]
//! ```
//!
//! Listens on 127.0.0.1:P (default 19876; 0 picks a free port) and prints
//! `listening on 127.0.0.1:<port>` on stdout once it accepts. Every request is answered
//! in the serialization it came in (JSON or ROCKETMQ binary):
//!
//! * GET_ROUTEINFO_BY_TOPIC (any topic): a route naming one broker, `responder-broker` at
//!   this very address, with N (default 4) read and write queues, perm 6;
//! * GET_BROKER_CLUSTER_INFO: that broker in cluster `ResponderCluster`;
//! * SEND_MESSAGE, SEND_MESSAGE_V2, SEND_BATCH_MESSAGE (and the reply variants): SUCCESS
//!   with an offset `msgId` for this address, the request's `queueId` and that queue's
//!   next `queueOffset` (incrementing by the number of messages), `MSG_REGION` and
//!   `TRACE_ON` as the Java broker sends them;
//! * HEART_BEAT, UNREGISTER_CLIENT and anything else: SUCCESS without a body;
//! * oneway requests and responses (e.g. a client answering a broker request): nothing.
//!
//! One tokio task per connection: it reads what is there, answers every complete frame
//! into one buffer and writes it with a single `write_all` (one syscall per read batch).
//! Unless `--quiet`, the first time each request code arrives it is logged on stderr
//! (code, name, language, serialization, oneway), which shows what a client sends. The
//! runtime is single-threaded unless `--threads` says otherwise, so the responder takes
//! at most one core; read its CPU time from /proc/<pid>/stat.

use std::collections::HashSet;
use std::io;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::{Buf, BytesMut};
use rocketmq_proto::codes::{LanguageCode, RequestCode, ResponseCode};
use rocketmq_proto::command::{Command, CommandEncoder, Header};
use rocketmq_proto::ext::NoFields;
use rocketmq_proto::frame::{Decoded, FrameDecoder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const BROKER_NAME: &str = "responder-broker";
const CLUSTER: &str = "ResponderCluster";

struct Shared {
    ip: [u8; 4],
    port: u16,
    route: Vec<u8>,
    cluster: Vec<u8>,
    /// Next offset of each queue (indexed by queue id modulo the array length).
    offsets: Vec<AtomicI64>,
    /// A fake commit-log position for offset message ids.
    commit_log: AtomicI64,
    quiet: bool,
    seen: Mutex<HashSet<i32>>,
    /// Set once a SEND_MESSAGE ([0]) / SEND_MESSAGE_V2 ([1]) went through the general
    /// path (and was logged): from then on that code takes the fast path.
    fast_ok: [std::sync::atomic::AtomicBool; 2],
    messages: AtomicU64,
}

fn route_body(addr: &str, queues: i32) -> Vec<u8> {
    // Standard JSON (quoted numeric brokerAddrs keys): fastjson's bare keys are accepted
    // by our client but not by every serde-based one.
    format!(
        "{{\"brokerDatas\":[{{\"brokerAddrs\":{{\"0\":\"{addr}\"}},\"brokerName\":\"{BROKER_NAME}\",\
         \"cluster\":\"{CLUSTER}\",\"enableActingMaster\":false}}],\"filterServerTable\":{{}},\
         \"queueDatas\":[{{\"brokerName\":\"{BROKER_NAME}\",\"perm\":6,\"readQueueNums\":{queues},\
         \"topicSysFlag\":0,\"writeQueueNums\":{queues}}}]}}"
    )
    .into_bytes()
}

fn cluster_body(addr: &str) -> Vec<u8> {
    format!(
        "{{\"brokerAddrTable\":{{\"{BROKER_NAME}\":{{\"brokerAddrs\":{{\"0\":\"{addr}\"}},\
         \"brokerName\":\"{BROKER_NAME}\",\"cluster\":\"{CLUSTER}\",\"enableActingMaster\":false}}}},\
         \"clusterAddrTable\":{{\"{CLUSTER}\":[\"{BROKER_NAME}\"]}}}}"
    )
    .into_bytes()
}

/// Messages in a batch body (each record starts with its total size).
fn batch_count(mut body: &[u8]) -> i64 {
    let mut n = 0;
    while let Some(size) = body.first_chunk::<4>() {
        let size = i32::from_be_bytes(*size);
        if size < 4 || size as usize > body.len() {
            break;
        }
        body = &body[size as usize..];
        n += 1;
    }
    n.max(1)
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Java's offset message id: store host IPv4, port, commit-log offset, as 32 hex chars.
fn offset_msg_id(ip: [u8; 4], port: u16, offset: i64, out: &mut [u8; 32]) {
    let mut raw = [0u8; 16];
    raw[..4].copy_from_slice(&ip);
    raw[4..8].copy_from_slice(&u32::from(port).to_be_bytes());
    raw[8..].copy_from_slice(&offset.to_be_bytes());
    for (i, b) in raw.iter().enumerate() {
        out[2 * i] = HEX[usize::from(b >> 4)];
        out[2 * i + 1] = HEX[usize::from(b & 15)];
    }
}

fn log_first(sh: &Shared, cmd: &Command<'_>) {
    if sh.quiet {
        return;
    }
    if sh.seen.lock().unwrap().insert(cmd.header.code) {
        let code = cmd.header.request_code();
        let keys: Vec<String> = cmd
            .fields()
            .iter()
            .map(|(k, _)| k.to_string_lossless())
            .collect();
        eprintln!(
            "responder: first request code {} ({}) language {:?} serialize {:?}{} extFields {:?} body {} B",
            code.0,
            code.name().unwrap_or("?"),
            cmd.header.language,
            cmd.serialize_type,
            if cmd.header.is_oneway() { " ONEWAY" } else { "" },
            keys,
            cmd.body.len()
        );
    }
}

/// What the fast path needs of a JSON request header: found by one pass over the
/// top-level object that skips string contents with memchr and never decodes a value.
struct QuickJson<'a> {
    code: i32,
    opaque: i32,
    flag: i32,
    version: i32,
    /// The raw `extFields` object, `{` to `}`.
    ext: &'a [u8],
}

/// Index just past the JSON string starting at `h[i] == '"'`.
fn skip_string(h: &[u8], mut i: usize) -> Option<usize> {
    i += 1;
    loop {
        let j = i + memchr::memchr2(b'"', b'\\', &h[i..])?;
        if h[j] == b'\\' {
            i = j + 2;
        } else {
            return Some(j + 1);
        }
    }
}

/// Index just past the value (object, array, string or scalar) starting at `h[i]`.
fn skip_value(h: &[u8], mut i: usize) -> Option<usize> {
    match *h.get(i)? {
        b'"' => skip_string(h, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            loop {
                match *h.get(i)? {
                    b'"' => {
                        i = skip_string(h, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        _ => {
            while i < h.len() && !matches!(h[i], b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t')
            {
                i += 1;
            }
            Some(i)
        }
    }
}

fn skip_ws(h: &[u8], mut i: usize) -> usize {
    while i < h.len() && matches!(h[i], b' ' | b'\n' | b'\r' | b'\t') {
        i += 1;
    }
    i
}

fn parse_int(v: &[u8]) -> Option<i32> {
    std::str::from_utf8(v).ok()?.parse().ok()
}

fn quick_json(h: &[u8]) -> Option<QuickJson<'_>> {
    let mut q = QuickJson {
        code: i32::MIN,
        opaque: 0,
        flag: 0,
        version: 0,
        ext: b"",
    };
    let mut i = skip_ws(h, 0);
    if *h.get(i)? != b'{' {
        return None;
    }
    i += 1;
    loop {
        i = skip_ws(h, i);
        match *h.get(i)? {
            b'}' => break,
            b',' => {
                i += 1;
                continue;
            }
            b'"' => {}
            _ => return None,
        }
        let kend = skip_string(h, i)?;
        let key = &h[i + 1..kend - 1];
        i = skip_ws(h, kend);
        if *h.get(i)? != b':' {
            return None;
        }
        i = skip_ws(h, i + 1);
        let vend = skip_value(h, i)?;
        let v = &h[i..vend];
        match key {
            b"code" => q.code = parse_int(v)?,
            b"opaque" => q.opaque = parse_int(v)?,
            b"flag" => q.flag = parse_int(v)?,
            b"version" => q.version = parse_int(v)?,
            b"extFields" if v.first() == Some(&b'{') => q.ext = v,
            _ => {}
        }
        i = vend;
    }
    (q.code != i32::MIN).then_some(q)
}

/// The value of `key` in a flat `extFields` object of string values, unescaped values
/// only (enough for a queue id).
fn quick_field<'a>(ext: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let mut i = 1;
    loop {
        i = skip_ws(ext, i);
        match *ext.get(i)? {
            b'}' => return None,
            b',' => {
                i += 1;
                continue;
            }
            b'"' => {}
            _ => return None,
        }
        let kend = skip_string(ext, i)?;
        let k = &ext[i + 1..kend - 1];
        i = skip_ws(ext, kend);
        if *ext.get(i)? != b':' {
            return None;
        }
        i = skip_ws(ext, i + 1);
        let vend = skip_value(ext, i)?;
        if k == key {
            let v = &ext[i..vend];
            return Some(
                v.strip_prefix(b"\"")
                    .and_then(|v| v.strip_suffix(b"\""))
                    .unwrap_or(v),
            );
        }
        i = vend;
    }
}

/// The answer to a send as Java's broker writes it (alphabetical keys), straight into
/// `out`: prefix, header, no body.
fn json_send_answer(
    out: &mut Vec<u8>,
    opaque: i32,
    version: i32,
    msg_id: &[u8],
    queue_id: i32,
    queue_offset: i64,
) {
    let start = out.len();
    out.extend_from_slice(&[0u8; 8]);
    let mut ib = itoa::Buffer::new();
    out.extend_from_slice(b"{\"code\":0,\"extFields\":{\"MSG_REGION\":\"DefaultRegion\",\"TRACE_ON\":\"true\",\"msgId\":\"");
    out.extend_from_slice(msg_id);
    out.extend_from_slice(b"\",\"queueId\":\"");
    out.extend_from_slice(ib.format(queue_id).as_bytes());
    out.extend_from_slice(b"\",\"queueOffset\":\"");
    out.extend_from_slice(ib.format(queue_offset).as_bytes());
    out.extend_from_slice(b"\"},\"flag\":1,\"language\":\"JAVA\",\"opaque\":");
    out.extend_from_slice(ib.format(opaque).as_bytes());
    out.extend_from_slice(b",\"serializeTypeCurrentRPC\":\"JSON\",\"version\":");
    out.extend_from_slice(ib.format(version).as_bytes());
    out.push(b'}');
    let header_len = out.len() - start - 8;
    out[start..start + 4].copy_from_slice(&((header_len + 4) as u32).to_be_bytes());
    out[start + 4..start + 8].copy_from_slice(&(header_len as u32).to_be_bytes());
    // type 0 = JSON
}

/// The send fast path for JSON headers (what both clients send by default): no full
/// decode of the header, the answer formatted directly. `false` when the frame is not
/// a plain JSON send (then the general path answers it).
fn fast_send(sh: &Shared, frame: &rocketmq_proto::frame::Frame<'_>, out: &mut Vec<u8>) -> bool {
    if frame.serialize_type != rocketmq_proto::codes::SerializeType::Json {
        return false;
    }
    let Some(q) = quick_json(frame.header) else {
        return false;
    };
    let code = RequestCode(q.code);
    let (key, k): (&[u8], usize) = match code {
        RequestCode::SEND_MESSAGE_V2 => (b"e", 1),
        RequestCode::SEND_MESSAGE => (b"queueId", 0),
        _ => return false,
    };
    if q.flag & rocketmq_proto::command::FLAG_RESPONSE != 0
        || !sh.fast_ok[k].load(Ordering::Relaxed)
    {
        // responses, and the first send of each kind (logged there), take the general path
        return false;
    }
    if q.flag & rocketmq_proto::command::FLAG_ONEWAY != 0 {
        sh.messages.fetch_add(1, Ordering::Relaxed);
        return true;
    }
    let queue_id = quick_field(q.ext, key).and_then(parse_int).unwrap_or(0);
    sh.messages.fetch_add(1, Ordering::Relaxed);
    let slot = &sh.offsets[queue_id.rem_euclid(sh.offsets.len() as i32) as usize];
    let queue_offset = slot.fetch_add(1, Ordering::Relaxed);
    let pos = sh.commit_log.fetch_add(256, Ordering::Relaxed);
    let mut id = [0u8; 32];
    offset_msg_id(sh.ip, sh.port, pos, &mut id);
    json_send_answer(out, q.opaque, q.version, &id, queue_id, queue_offset);
    true
}

/// Answer one frame into `out`.
fn handle(sh: &Shared, cmd: &Command<'_>, out: &mut Vec<u8>) {
    if cmd.header.is_response() {
        return;
    }
    log_first(sh, cmd);
    if cmd.header.is_oneway() {
        return;
    }
    let enc = CommandEncoder::new(cmd.serialize_type);
    let header = Header {
        code: ResponseCode::SUCCESS.0,
        language: LanguageCode::JAVA,
        version: cmd.header.version,
        opaque: cmd.header.opaque,
        flag: rocketmq_proto::command::FLAG_RESPONSE,
        remark: None,
    };
    let code = cmd.header.request_code();
    let r = match code {
        RequestCode::SEND_MESSAGE_V2
        | RequestCode::SEND_MESSAGE
        | RequestCode::SEND_BATCH_MESSAGE
        | RequestCode::SEND_REPLY_MESSAGE
        | RequestCode::SEND_REPLY_MESSAGE_V2 => {
            let fields = cmd.fields();
            let v2 = matches!(
                code,
                RequestCode::SEND_MESSAGE_V2
                    | RequestCode::SEND_BATCH_MESSAGE
                    | RequestCode::SEND_REPLY_MESSAGE_V2
            );
            let queue_id = fields
                .get(if v2 { "e" } else { "queueId" })
                .and_then(|t| t.parse_i32())
                .unwrap_or(0);
            let n = if code == RequestCode::SEND_BATCH_MESSAGE {
                batch_count(cmd.body)
            } else {
                1
            };
            sh.messages.fetch_add(n as u64, Ordering::Relaxed);
            match code {
                RequestCode::SEND_MESSAGE => sh.fast_ok[0].store(true, Ordering::Relaxed),
                RequestCode::SEND_MESSAGE_V2 => sh.fast_ok[1].store(true, Ordering::Relaxed),
                _ => {}
            }
            let slot = &sh.offsets[queue_id.rem_euclid(sh.offsets.len() as i32) as usize];
            let queue_offset = slot.fetch_add(n, Ordering::Relaxed);
            let pos = sh.commit_log.fetch_add(n * 256, Ordering::Relaxed);
            let mut qid = itoa::Buffer::new();
            let mut qoff = itoa::Buffer::new();
            let qid = qid.format(queue_id);
            let qoff = qoff.format(queue_offset);
            if n == 1 {
                let mut id = [0u8; 32];
                offset_msg_id(sh.ip, sh.port, pos, &mut id);
                let id = std::str::from_utf8(&id).unwrap();
                let f = [
                    ("MSG_REGION", "DefaultRegion"),
                    ("TRACE_ON", "true"),
                    ("msgId", id),
                    ("queueId", qid),
                    ("queueOffset", qoff),
                ];
                enc.encode_to(out, &header, &f, b"")
            } else {
                let mut ids = String::with_capacity(33 * n as usize);
                for k in 0..n {
                    let mut id = [0u8; 32];
                    offset_msg_id(sh.ip, sh.port, pos + k * 256, &mut id);
                    if k > 0 {
                        ids.push(',');
                    }
                    ids.push_str(std::str::from_utf8(&id).unwrap());
                }
                let f = [
                    ("MSG_REGION", "DefaultRegion"),
                    ("TRACE_ON", "true"),
                    ("msgId", ids.as_str()),
                    ("queueId", qid),
                    ("queueOffset", qoff),
                ];
                enc.encode_to(out, &header, &f, b"")
            }
        }
        RequestCode::GET_ROUTEINFO_BY_TOPIC => enc.encode_to(out, &header, &NoFields, &sh.route),
        RequestCode::GET_BROKER_CLUSTER_INFO => enc.encode_to(out, &header, &NoFields, &sh.cluster),
        // HEART_BEAT, UNREGISTER_CLIENT and anything unknown.
        _ => enc.encode_to(out, &header, &NoFields, b""),
    };
    if let Err(e) = r {
        eprintln!("responder: encoding the answer to {code:?}: {e:?}");
    }
}

async fn serve(mut sock: TcpStream, sh: Arc<Shared>) -> io::Result<()> {
    sock.set_nodelay(true)?;
    let dec = FrameDecoder::new();
    let mut inb = BytesMut::with_capacity(256 * 1024);
    let mut out: Vec<u8> = Vec::with_capacity(256 * 1024);
    loop {
        if inb.capacity() - inb.len() < 64 * 1024 {
            inb.reserve(64 * 1024);
        }
        if sock.read_buf(&mut inb).await? == 0 {
            return Ok(());
        }
        let mut pos = 0;
        loop {
            match dec.decode(&inb[pos..]) {
                Ok(Decoded::Frame { frame, consumed }) => {
                    if fast_send(&sh, &frame, &mut out) {
                        pos += consumed;
                        continue;
                    }
                    match Command::decode(frame) {
                        Ok(cmd) => handle(&sh, &cmd, &mut out),
                        Err(e) => eprintln!("responder: undecodable command: {e:?}"),
                    }
                    pos += consumed;
                }
                Ok(Decoded::Incomplete { needed }) => {
                    let have = inb.len() - pos;
                    if needed > have {
                        inb.reserve(needed - have);
                    }
                    break;
                }
                Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, format!("{e:?}"))),
            }
        }
        inb.advance(pos);
        if !out.is_empty() {
            sock.write_all(&out).await?;
            out.clear();
        }
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: responder [--port P (19876; 0 = any)] [--queues N (4)] [--threads T (1)] [--quiet]"
    );
    std::process::exit(2)
}

fn main() -> io::Result<()> {
    let mut port: u16 = 19876;
    let mut queues: i32 = 4;
    let mut threads: usize = 1;
    let mut quiet = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--port" => port = val().parse().unwrap_or_else(|_| usage()),
            "--queues" => queues = val().parse().unwrap_or_else(|_| usage()),
            "--threads" => threads = val().parse().unwrap_or_else(|_| usage()),
            "--quiet" => quiet = true,
            _ => usage(),
        }
    }
    let rt = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()?
    };
    rt.block_on(async move {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let port = listener.local_addr()?.port();
        let addr = format!("127.0.0.1:{port}");
        let sh = Arc::new(Shared {
            ip: [127, 0, 0, 1],
            port,
            route: route_body(&addr, queues),
            cluster: cluster_body(&addr),
            offsets: (0..queues.max(1)).map(|_| AtomicI64::new(0)).collect(),
            commit_log: AtomicI64::new(0),
            quiet,
            seen: Mutex::new(HashSet::new()),
            fast_ok: Default::default(),
            messages: AtomicU64::new(0),
        });
        println!("listening on {addr}");
        use std::io::Write;
        let _ = std::io::stdout().flush();
        loop {
            let (sock, peer) = listener.accept().await?;
            let sh = sh.clone();
            tokio::spawn(async move {
                if let Err(e) = serve(sock, sh.clone()).await {
                    if !sh.quiet {
                        eprintln!("responder: connection from {peer}: {e}");
                    }
                }
            });
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared() -> Shared {
        Shared {
            ip: [127, 0, 0, 1],
            port: 19876,
            route: Vec::new(),
            cluster: Vec::new(),
            offsets: (0..4).map(|_| AtomicI64::new(0)).collect(),
            commit_log: AtomicI64::new(0),
            quiet: true,
            seen: Mutex::new(HashSet::new()),
            fast_ok: Default::default(),
            messages: AtomicU64::new(0),
        }
    }

    fn request(code: RequestCode, fields: &[(&str, &str)]) -> Vec<u8> {
        let mut v = Vec::new();
        let h = Header::request(code, 4242);
        CommandEncoder::new(rocketmq_proto::codes::SerializeType::Json)
            .encode_to(&mut v, &h, fields, b"0123456789")
            .unwrap();
        v
    }

    fn answer(bytes: &[u8]) -> (i32, i32, i32, Vec<(String, String)>) {
        let Decoded::Frame { frame, consumed } = FrameDecoder::new().decode(bytes).unwrap() else {
            panic!("incomplete")
        };
        assert_eq!(consumed, bytes.len());
        let c = Command::decode(frame).unwrap();
        let f = c
            .fields()
            .iter()
            .map(|(k, v)| (k.to_string_lossless(), v.to_string_lossless()))
            .collect();
        (c.header.code, c.header.opaque, c.header.flag, f)
    }

    #[test]
    fn the_fast_path_answers_as_the_general_one() {
        for (code, key) in [
            (RequestCode::SEND_MESSAGE_V2, "e"),
            (RequestCode::SEND_MESSAGE, "queueId"),
        ] {
            let sh = shared();
            let req = request(
                code,
                &[
                    ("a", "G"),
                    ("b", "T\"x{}"),
                    (key, "3"),
                    ("i", "UNIQ_KEY\u{1}X\u{2}"),
                ],
            );
            let Decoded::Frame { frame, .. } = FrameDecoder::new().decode(&req).unwrap() else {
                panic!()
            };
            let mut general = Vec::new();
            assert!(
                !fast_send(&sh, &frame, &mut general),
                "first send takes the general path"
            );
            handle(&sh, &Command::decode(frame).unwrap(), &mut general);
            let mut fast = Vec::new();
            assert!(fast_send(&sh, &frame, &mut fast));
            let (g, f) = (answer(&general), answer(&fast));
            assert_eq!((g.0, g.1, g.2), (0, 4242, 1));
            assert_eq!((f.0, f.1, f.2), (0, 4242, 1));
            assert_eq!(g.3.len(), 5);
            for (i, ((gk, gv), (fk, fv))) in g.3.iter().zip(&f.3).enumerate() {
                assert_eq!(gk, fk);
                match gk.as_str() {
                    "queueOffset" => assert_eq!((gv.as_str(), fv.as_str()), ("0", "1")),
                    "msgId" => assert_eq!(gv.len(), 32, "{i}"),
                    "queueId" => assert_eq!((gv.as_str(), fv.as_str()), ("3", "3")),
                    _ => assert_eq!(gv, fv),
                }
            }
        }
    }

    #[test]
    fn batch_bodies_are_counted() {
        let mut b = Vec::new();
        for len in [20u32, 30, 25] {
            b.extend_from_slice(&len.to_be_bytes());
            b.extend(std::iter::repeat_n(0, len as usize - 4));
        }
        assert_eq!(batch_count(&b), 3);
    }
}

//! `rmq decode`: a frame dissector built on the core's decoders.

use rocketmq_proto::command::Command;
use rocketmq_proto::frame::{Decoded, FrameDecoder};
use rocketmq_proto::message::RecordIter;

/// Print the frame in `bytes`: header, extFields, then the body as stored messages,
/// JSON text, or hex.
pub fn print(bytes: &[u8], json: bool) -> Result<(), String> {
    let frame = match FrameDecoder::new()
        .decode(bytes)
        .map_err(|e| e.to_string())?
    {
        Decoded::Frame { frame, consumed } => {
            if consumed < bytes.len() {
                eprintln!(
                    "note: {} bytes after the first frame ignored",
                    bytes.len() - consumed
                );
            }
            frame
        }
        Decoded::Incomplete { needed } => {
            return Err(format!("incomplete frame: {needed:?} more bytes needed"))
        }
    };
    let cmd = Command::decode(frame).map_err(|e| e.to_string())?;
    let h = &cmd.header;
    let kind = if h.is_response() {
        "response"
    } else {
        "request"
    };
    let code = if h.is_response() {
        format!("{:?}", h.response_code())
    } else {
        format!("{:?}", h.request_code())
    };
    let fields: Vec<(String, String)> = cmd
        .fields()
        .iter()
        .map(|(k, v)| (k.to_string_lossless(), v.to_string_lossless()))
        .collect();
    let records: Vec<_> = RecordIter::new(cmd.body).map_while(Result::ok).collect();
    if json {
        let fields_json: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{:?}:{:?}", k, v))
            .collect();
        println!(
            "{{\"kind\":\"{kind}\",\"code\":{:?},\"opaque\":{},\"oneway\":{},\"serializeType\":\"{:?}\",\"language\":\"{:?}\",\"version\":{},\"remark\":{:?},\"extFields\":{{{}}},\"bodyBytes\":{},\"messages\":{}}}",
            code,
            h.opaque,
            h.is_oneway(),
            cmd.serialize_type,
            h.language,
            h.version,
            h.remark.map(|r| r.to_string_lossless()).unwrap_or_default(),
            fields_json.join(","),
            cmd.body.len(),
            records.len()
        );
        return Ok(());
    }
    println!(
        "{kind} {code}  opaque {}  {}",
        h.opaque,
        if h.is_oneway() { "oneway" } else { "" }
    );
    println!(
        "  header: {:?}, language {:?}, version {}",
        cmd.serialize_type, h.language, h.version
    );
    if let Some(r) = h.remark {
        println!("  remark: {}", r.to_string_lossless());
    }
    for (k, v) in &fields {
        println!("  {k} = {v}");
    }
    println!("  body: {} bytes", cmd.body.len());
    if !records.is_empty() {
        for r in &records {
            println!(
                "  message {} topic {} queue {}@{} tags {:?} keys {:?} body {:?}",
                r.uniq_key()
                    .map(str::to_owned)
                    .unwrap_or_else(|| r.offset_msg_id().to_hex().to_string()),
                r.topic,
                r.queue_id,
                r.queue_offset,
                r.tags(),
                r.properties.get("KEYS"),
                String::from_utf8_lossy(r.body)
            );
        }
    } else if let Ok(text) = std::str::from_utf8(cmd.body) {
        if !text.is_empty() {
            println!("  {text}");
        }
    } else {
        println!("  {}", hex::encode(cmd.body));
    }
    Ok(())
}

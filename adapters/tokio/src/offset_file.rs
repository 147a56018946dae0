//! Broadcasting consumers' local offsets in a file, in the format of Java's
//! `LocalFileOffsetStore` (`offsets.json`, fastjson's `{"offsetTable":{{mq}:offset}}`),
//! so a Java consumer and this one can take over each other's file.

use std::io::Write;
use std::path::{Path, PathBuf};

use rocketmq_proto::body::{EncodeBody, MessageQueue, MessageQueueOffset, ResetOffsetBody};
use rocketmq_proto::collections::Growable;

use crate::driver::Engine;
use crate::error::Error;

/// Java's default place: `~/.rocketmq_offsets/<client id>/<group>/offsets.json`.
pub(crate) fn default_path(client_id: &str, group: &str) -> PathBuf {
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".rocketmq_offsets")
        .join(client_id)
        .join(group)
        .join("offsets.json")
}

/// Give the engine the offsets stored at `path` (none stored: nothing to do).
pub(crate) fn load(path: &Path, engine: &mut Engine) -> Result<(), Error> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::Io(format!("{}: {e}", path.display()))),
    };
    let body = ResetOffsetBody::<Growable>::decode(&bytes)
        .map_err(|e| Error::Invalid(format!("{}: not an offsets file: {e}", path.display())))?;
    for e in &body.offset_table {
        let mq = &e.message_queue;
        let (topic, broker) = (mq.topic.to_cow(), mq.broker_name.to_cow());
        engine.set_local_offset(&topic, &broker, mq.queue_id, e.offset)?;
    }
    Ok(())
}

/// Write the engine's local offsets to `path`: a new file renamed over the old one, so
/// a crash leaves either the old or the new offsets, never half a file.
pub(crate) fn store(path: &Path, engine: &Engine) -> std::io::Result<()> {
    let body = ResetOffsetBody::<Growable> {
        offset_table: engine
            .local_offsets()
            .map(|(topic, broker, queue_id, offset)| MessageQueueOffset {
                message_queue: MessageQueue {
                    topic: topic.into(),
                    broker_name: broker.into(),
                    queue_id,
                },
                offset,
            })
            .collect(),
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("json.tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(&body.to_vec())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

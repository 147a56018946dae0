//! Request-reply (behaviour.md §2.14): a requester sends a message carrying
//! `CORRELATION_ID`, `REPLY_TO_CLIENT` and `TTL`; a replier answers it with
//! SEND_REPLY_MESSAGE_V2 to `<cluster>_REPLY_TOPIC`; the broker pushes the reply to the
//! requester (PUSH_REPLY_MESSAGE_TO_CLIENT), which matches it by correlation id.

use super::admin::ReplyBody;
use super::*;
use crate::message::PropertiesView;

/// Why a request got no reply.
// As SendError: requests end rarely enough that the size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestError {
    /// The request message itself could not be sent.
    Send(SendError),
    /// Sent, but no reply came within the timeout ("request timeout, no reply
    /// message" in Java).
    NoReply,
}

/// A reply to one of this client's requests (see [`Client::request`]).
#[derive(Debug, Clone, Copy)]
pub struct ReplyMessage<'a> {
    /// The reply's properties (`CORRELATION_ID`, `MSG_TYPE=reply`, user properties…).
    pub properties: PropertiesView<'a>,
    /// The body as sent: compressed when `sys_flag` has bit 0x1 (see
    /// [`crate::message::decompress`]).
    pub body: &'a [u8],
    /// The message sysFlag the replier set.
    pub sys_flag: i32,
}

/// A request waiting for its reply, or holding it until the application releases it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PendingRequest<B> {
    pub(super) id: SendId,
    pub(super) correlation: heapless::String<36>,
    pub(super) deadline: Instant,
    /// The reply: properties then body, the properties' length, its sysFlag.
    pub(super) reply: Option<(B, usize, i32)>,
    pub(super) error: Option<RequestError>,
    pub(super) announced: bool,
}

impl<C: Collections, B: MessageBuf, const INFLIGHT: usize> Client<C, B, INFLIGHT> {
    /// Send `msg` as a request and wait up to `timeout` for its reply (Java
    /// `DefaultMQProducer.request`). The request ends with exactly one
    /// [`Event::Reply`] (read it with [`Client::reply`], then
    /// [`Client::release_reply`]) or [`Event::RequestFailed`]; the message's own
    /// SendOk is not reported. The requester must be a registered producer: the broker
    /// finds it among the producers it knows by client id.
    pub fn request(
        &mut self,
        now: Instant,
        wall_clock_ms: i64,
        msg: &Message<'_>,
        timeout: Millis,
    ) -> Result<SendId, CallError> {
        if self.requests.is_full() {
            return Err(CallError::Full("requests"));
        }
        let correlation = self.correlation_id();
        let mut ttl = itoa::Buffer::new();
        let ttl = ttl.format(timeout.0);
        // A copy: the properties cannot borrow `self` while `start_send` needs it whole.
        let client_id = self.config.client_id.clone();
        let extra = [
            (keys::CORRELATION_ID, correlation.as_str()),
            (keys::REPLY_TO_CLIENT, client_id.as_str()),
            (keys::TTL, ttl),
        ];
        let opts = SendOptions {
            request: true,
            extra: &extra,
            ..SendOptions::new(SendMode::Sync, timeout)
        };
        let id = self.start_send(now, wall_clock_ms, msg, &opts)?;
        let pushed = self.requests.try_push(PendingRequest {
            id,
            correlation,
            deadline: now + timeout,
            reply: None,
            error: None,
            announced: false,
        });
        debug_assert!(pushed.is_ok(), "checked for room above");
        Ok(id)
    }

    /// Answer a request message with `body`, given the request's properties (as
    /// delivered to a consumer: `record.properties`):
    /// SEND_REPLY_MESSAGE_V2 to `<cluster>_REPLY_TOPIC` carrying the request's
    /// `CORRELATION_ID`, `REPLY_TO_CLIENT` and `TTL` and `MSG_TYPE=reply` (Java
    /// `MessageUtil.createReplyMessage`). Needs a registered producer group; the
    /// outcome arrives as [`Event::SendOk`] / [`Event::SendFailed`].
    pub fn send_reply(
        &mut self,
        now: Instant,
        wall_clock_ms: i64,
        request: &PropertiesView<'_>,
        body: &[u8],
    ) -> Result<SendId, CallError> {
        let missing = |field| CallError::Encode(EncodeError::InvalidValue { field });
        let props = request;
        let cluster = props.get(keys::CLUSTER).ok_or(missing("CLUSTER"))?;
        let correlation = props
            .get(keys::CORRELATION_ID)
            .ok_or(missing("CORRELATION_ID"))?;
        let reply_to = props
            .get(keys::REPLY_TO_CLIENT)
            .ok_or(missing("REPLY_TO_CLIENT"))?;
        let ttl = props.get(keys::TTL).unwrap_or("3000");
        let mut topic = Name::new();
        topic
            .push_str(cluster)
            .and_then(|()| topic.push_str("_REPLY_TOPIC"))
            .map_err(|()| CallError::Full("name length"))?;
        let msg = Message::new(&topic, body);
        let extra = [
            (keys::MSG_TYPE, "reply"),
            (keys::CORRELATION_ID, correlation),
            (keys::REPLY_TO_CLIENT, reply_to),
            (keys::TTL, ttl),
        ];
        let opts = SendOptions {
            reply: true,
            extra: &extra,
            ..SendOptions::new(SendMode::Sync, self.config.send_timeout)
        };
        self.start_send(now, wall_clock_ms, &msg, &opts)
    }

    /// The reply to request `id`, until released.
    pub fn reply(&self, id: SendId) -> Option<ReplyMessage<'_>> {
        let r = self.requests.iter().find(|r| r.id == id)?;
        let (data, props_len, sys_flag) = r.reply.as_ref()?;
        let (props, body) = data
            .as_ref()
            .split_at((*props_len).min(data.as_ref().len()));
        Some(ReplyMessage {
            properties: PropertiesView::new(core::str::from_utf8(props).ok()?),
            body,
            sys_flag: *sys_flag,
        })
    }

    /// Free the reply of request `id` (after reading it).
    pub fn release_reply(&mut self, id: SendId) {
        self.requests
            .retain_where(|r| r.id != id || r.reply.is_none());
    }

    /// A random UUID (version 4 layout) from the injected seed, as Java's
    /// `CorrelationIdUtil` makes one.
    fn correlation_id(&mut self) -> heapless::String<36> {
        let mut bytes = [0u8; 16];
        for chunk in bytes.chunks_mut(4) {
            chunk.copy_from_slice(&xorshift(&mut self.rng_state).to_be_bytes());
        }
        if let Some(b) = bytes.get_mut(6) {
            *b = (*b & 0x0f) | 0x40;
        }
        if let Some(b) = bytes.get_mut(8) {
            *b = (*b & 0x3f) | 0x80;
        }
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut s = heapless::String::new();
        for (i, b) in bytes.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                let _ = s.push('-');
            }
            for nibble in [b >> 4, b & 0xf] {
                let _ = s.push(char::from(
                    HEX.get(usize::from(nibble)).copied().unwrap_or(b'0'),
                ));
            }
        }
        s
    }

    /// PUSH_REPLY_MESSAGE_TO_CLIENT: complete the request with that correlation id. The
    /// broker gets SUCCESS either way (Java logs and drops an unknown one).
    pub(super) fn on_push_reply(&mut self, conn: ConnId, cmd: &Command<'_>) {
        use crate::header::PushReplyMessageRequest;
        let opaque = cmd.header.opaque;
        // Without room for requests, no request waits for it.
        let decoded = match super::never_holds(&self.requests) {
            true => None,
            false => cmd.decode_fields::<PushReplyMessageRequest<'_>>().ok(),
        };
        if let Some(h) = decoded {
            // The JSON header escapes the 0x01/0x02 separators: decode them (a reply
            // with larger properties than this is dropped; its request times out).
            let mut scratch = [0u8; 2048];
            let props = h
                .properties
                .as_ref()
                .and_then(|p| p.decode_into(&mut scratch).ok())
                .unwrap_or_default();
            let correlation = PropertiesView::new(props).get(keys::CORRELATION_ID);
            let waiting = self.requests.iter_mut().find(|r| {
                Some(r.correlation.as_str()) == correlation
                    && r.reply.is_none()
                    && r.error.is_none()
            });
            if let Some(r) = waiting {
                // Too large for a message buffer: the request times out instead.
                if let Some(data) = B::from_parts(&[props.as_bytes(), cmd.body]) {
                    r.reply = Some((data, props.len(), h.sys_flag));
                }
            }
        }
        if !cmd.header.is_oneway() {
            self.push_reply(conn, opaque, ResponseCode::SUCCESS, ReplyBody::Empty);
        }
    }

    /// Requests whose time is up end without a reply.
    pub(super) fn expire_requests(&mut self, now: Instant) {
        for r in self.requests.iter_mut() {
            if r.reply.is_none() && r.error.is_none() && now >= r.deadline {
                r.error = Some(RequestError::NoReply);
            }
        }
    }

    /// The earliest request deadline.
    pub(super) fn next_request_deadline(&self) -> Option<Instant> {
        self.requests
            .iter()
            .filter(|r| r.reply.is_none() && r.error.is_none())
            .map(|r| r.deadline)
            .min()
    }

    /// The send of request `id` ended: a success is not reported (the reply will be);
    /// a failure ends the request, unless it ended already.
    pub(super) fn request_send_ended(&mut self, id: SendId, error: Option<SendError>) {
        let Some(r) = self.requests.iter_mut().find(|r| r.id == id) else {
            return;
        };
        if let Some(e) = error {
            if r.reply.is_none() && r.error.is_none() {
                r.error = Some(RequestError::Send(e));
            }
        }
    }

    /// The next request event: a reply to read, or a request that failed.
    pub(super) fn request_event(&mut self) -> Option<Event> {
        if let Some(r) = self
            .requests
            .iter_mut()
            .find(|r| r.reply.is_some() && !r.announced)
        {
            r.announced = true;
            return Some(Event::Reply { id: r.id });
        }
        let i = self.requests.iter().position(|r| r.error.is_some())?;
        let r = self.requests.remove_at(i)?;
        Some(Event::RequestFailed {
            id: r.id,
            error: r.error?,
        })
    }
}

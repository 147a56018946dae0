//! Calls: one request the application composes (a typed header from
//! [`crate::header`] and a body), sent to the NameServer or to a broker address, and
//! answered with the raw response. This is what admin tools need (create a topic, read
//! cluster info, offsets, look a message up): the engine adds what every request gets
//! (an opaque, a deadline, the connection, the ACL signature) and decides nothing else.
//!
//! The request's fields are kept flattened (`key\u{1}value\u{2}`…, the properties
//! format, values as they will be written) with the body in one [`MessageBuf`]; the
//! response is kept as its whole frame and decoded again on demand
//! ([`Client::call_response`]), so nothing borrows from the input after `handle_input`
//! returns.

use super::*;
use crate::ext::{FieldSink, FieldValue};

/// Identifies one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CallId(pub u32);

/// Where a call goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallTarget<'a> {
    /// The NameServer the engine uses now (a failure marks it, so the next call goes
    /// to the next one).
    NameServer,
    /// A broker (or any server) at `host:port`.
    Address(&'a str),
}

/// Why a call got no response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallFailure {
    /// No response within the call's timeout.
    Timeout,
    /// The connection failed or closed before the response.
    Transport,
    /// No NameServer is configured.
    NoNameServer,
    /// The response did not fit the engine's message buffer.
    TooLarge,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PendingCall<B> {
    pub(super) id: CallId,
    code: RequestCode,
    /// Flattened fields, then the body.
    data: B,
    fields_len: usize,
    /// The response frame, or why there is none.
    outcome: Option<Result<B, CallFailure>>,
    announced: bool,
}

/// Writes fields flattened into a [`MessageBuf`].
struct Flatten<'b, B> {
    buf: &'b mut B,
    /// Everything fitted.
    ok: bool,
    /// No key or value held a separator.
    clean: bool,
}

/// Whether written bytes are free of the separators.
struct NoSeparators(bool);

impl Out for NoSeparators {
    fn put(&mut self, bytes: &[u8]) {
        self.0 &= !bytes.iter().any(|&b| b == 1 || b == 2);
    }
}

impl<B: MessageBuf> Out for Flatten<'_, B> {
    fn put(&mut self, bytes: &[u8]) {
        self.ok &= self.buf.append(bytes);
    }
}

impl<'s, B: MessageBuf> FieldSink<'s> for Flatten<'_, B> {
    fn field(&mut self, key: Text<'s>, value: FieldValue<'s>) {
        let mut check = NoSeparators(true);
        FieldValue::Text(key).write_plain(&mut check);
        value.write_plain(&mut check);
        self.clean &= check.0;
        FieldValue::Text(key).write_plain(self);
        self.put(&[1]);
        value.write_plain(self);
        self.put(&[2]);
    }
}

/// Flattened fields read back for encoding.
struct Flat<'a>(&'a str);

impl EncodeFields for Flat<'_> {
    fn encode_fields<'s, S: FieldSink<'s> + ?Sized>(&'s self, sink: &mut S) {
        // Split by hand rather than with `PropertiesView`, which drops empty values: a
        // header field may be "".
        for pair in self.0.split('\u{2}').filter(|p| !p.is_empty()) {
            if let Some((k, v)) = pair.split_once('\u{1}') {
                sink.field(Text::new(k), FieldValue::from(v));
            }
        }
    }
}

impl<C: Collections, B: MessageBuf, const INFLIGHT: usize> Client<C, B, INFLIGHT> {
    /// Send request `code` with `fields` (any typed header of [`crate::header`]) and
    /// `body` to `target`; the response comes as [`Event::CallDone`], to read with
    /// [`call_response`](Self::call_response) and then
    /// [`release_call`](Self::release_call).
    ///
    /// Field values may not contain the separators `\u{1}` and `\u{2}`
    /// ([`CallError::Encode`]).
    pub fn call<F: EncodeFields + ?Sized>(
        &mut self,
        now: Instant,
        target: CallTarget<'_>,
        code: RequestCode,
        fields: &F,
        body: &[u8],
        timeout: Millis,
    ) -> Result<CallId, CallError> {
        if self.shutdown.is_some() {
            return Err(CallError::Closed);
        }
        self.clock = self.clock.max(now);
        let mut data = B::from_parts(&[]).ok_or(CallError::Full("call buffer"))?;
        let mut flat = Flatten {
            buf: &mut data,
            ok: true,
            clean: true,
        };
        fields.encode_fields(&mut flat);
        if !flat.ok {
            return Err(CallError::Full("call buffer"));
        }
        if !flat.clean {
            // It would be read back split differently.
            return Err(CallError::Encode(EncodeError::InvalidValue {
                field: "extFields",
            }));
        }
        let fields_len = data.as_ref().len();
        if !data.append(body) {
            return Err(CallError::Full("call buffer"));
        }
        let id = CallId(self.next_call);
        let addr = match target {
            CallTarget::NameServer => self.namesrv.choose().and_then(|a| Addr::try_from(a).ok()),
            CallTarget::Address(a) => {
                Some(Addr::try_from(a).map_err(|_| {
                    CallError::Encode(EncodeError::InvalidValue { field: "address" })
                })?)
            }
        };
        let call = PendingCall {
            id,
            code,
            data,
            fields_len,
            outcome: addr.is_none().then_some(Err(CallFailure::NoNameServer)),
            announced: false,
        };
        self.calls
            .try_push(call)
            .map_err(|_| CallError::Full("calls"))?;
        self.next_call = self.next_call.wrapping_add(1);
        if let Some(addr) = addr {
            if !self.push_request(&addr, now + timeout, Purpose::Call(id)) {
                self.calls.retain_where(|c| c.id != id);
                return Err(CallError::Full("requests in flight"));
            }
        }
        Ok(id)
    }

    /// The response to call `id` (after [`Event::CallDone`]): the decoded command
    /// (response code, remark, fields with [`Command::decode_fields`], body), or why
    /// there is none. `None` for an unknown, unfinished or released call.
    pub fn call_response(&self, id: CallId) -> Option<Result<Command<'_>, CallFailure>> {
        let call = self.calls.iter().find(|c| c.id == id)?;
        Some(match call.outcome.as_ref()? {
            // Checked when it arrived.
            Ok(raw) => match FrameDecoder::new().decode(raw.as_ref()) {
                Ok(Decoded::Frame { frame, .. }) => {
                    Command::decode(frame).map_err(|_| CallFailure::Transport)
                }
                _ => Err(CallFailure::Transport),
            },
            Err(e) => Err(*e),
        })
    }

    /// Forget call `id` (its response is no longer readable); one not yet answered is
    /// abandoned (its frame is not written, a late answer is dropped).
    pub fn release_call(&mut self, id: CallId) {
        self.calls.retain_where(|c| c.id != id);
        let purpose = Purpose::Call(id);
        let opaque = self
            .inflight
            .iter()
            .find(|(_, _, _, p)| **p == purpose)
            .map(|(o, _, _, _)| o);
        if let Some(opaque) = opaque {
            self.inflight.complete(opaque);
        }
        self.outbound.retain_where(|o| o.purpose != purpose);
    }

    pub(super) fn end_call(&mut self, id: CallId, outcome: Result<&[u8], CallFailure>) {
        let Some(call) = self.calls.iter_mut().find(|c| c.id == id) else {
            return;
        };
        if call.outcome.is_some() {
            return;
        }
        call.outcome = Some(match outcome {
            Ok(frame) => B::from_parts(&[frame]).ok_or(CallFailure::TooLarge),
            Err(e) => Err(e),
        });
    }

    pub(super) fn call_event(&mut self) -> Option<Event> {
        let call = self
            .calls
            .iter_mut()
            .find(|c| c.outcome.is_some() && !c.announced)?;
        call.announced = true;
        Some(Event::CallDone { id: call.id })
    }

    pub(super) fn encode_call(
        &self,
        enc: &CommandEncoder,
        ob: &Outbound,
        id: CallId,
        buf: &mut [u8],
    ) -> Result<usize, EncodeError> {
        if super::never_holds(&self.calls) {
            // As when `id` is not found below.
            return Err(EncodeError::InvalidValue { field: "call" });
        }
        let call = self
            .calls
            .iter()
            .find(|c| c.id == id)
            .ok_or(EncodeError::InvalidValue { field: "call" })?;
        let data = call.data.as_ref();
        let (pairs, body) = data.split_at(call.fields_len.min(data.len()));
        let pairs = core::str::from_utf8(pairs)
            .map_err(|_| EncodeError::InvalidValue { field: "extFields" })?;
        let header = self.header(call.code, ob.opaque);
        self.encode_frame(enc, buf, &header, &Flat(pairs), body)
    }
}

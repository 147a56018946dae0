//! ACL request signing (wire.md §9), as Java's `AclClientRPCHook` does it.
//!
//! The signed content is the values of all `extFields` (plus `AccessKey` and, if
//! configured, `SecurityToken`) sorted by key, concatenated without separators, then
//! the body; `Signature` = Base64(HMAC-SHA1(secret key, content)). Values are taken
//! exactly as the header encoder will write them (numbers in decimal, booleans as
//! `true`/`false`, JSON escapes decoded).
//!
//! [`SessionCredentials::sign`] wraps any [`EncodeFields`] into a [`Signed`] that is
//! itself `EncodeFields` — the original fields followed by `AccessKey`,
//! `SecurityToken` and `Signature` — so it goes straight into
//! [`CommandEncoder::encode`](crate::command::CommandEncoder::encode). Nothing is
//! allocated: fields are collected into a fixed-capacity list
//! ([`DEFAULT_MAX_SIGNED_FIELDS`], or choose with [`SessionCredentials::sign_bounded`]).
//!
//! ```
//! use rocketmq_proto::acl::SessionCredentials;
//! use rocketmq_proto::codes::{RequestCode, SerializeType};
//! use rocketmq_proto::command::{CommandEncoder, Header};
//!
//! let creds = SessionCredentials::new("rocketmq2", "12345678");
//! let fields = [("topic", "TBW102")];
//! let signed = creds.sign(&fields, b"").unwrap();
//! assert_eq!(signed.signature(), "/u5P/wZUbhjanu4LM/UzEdo2u2I=");
//!
//! let mut buf = [0u8; 512];
//! let header = Header::request(RequestCode::GET_ROUTEINFO_BY_TOPIC, 1);
//! let n = CommandEncoder::new(SerializeType::Json).encode(&mut buf, &header, &signed, b"").unwrap();
//! # let _ = n;
//! ```

use crate::body::{java_cmp, EncodeBody};
use crate::error::EncodeError;
use crate::ext::{EncodeFields, FieldSink, FieldValue};
use crate::hash::HmacSha1;
use crate::out::Out;
use crate::text::Text;

/// Ext field carrying the access key.
pub const ACCESS_KEY: &str = "AccessKey";
/// Ext field carrying the security token (STS), when configured.
pub const SECURITY_TOKEN: &str = "SecurityToken";
/// Ext field carrying the signature (never part of the signed content).
pub const SIGNATURE: &str = "Signature";

/// Fields [`SessionCredentials::sign`] can collect (the command's own fields plus
/// `AccessKey` and `SecurityToken`).
pub const DEFAULT_MAX_SIGNED_FIELDS: usize = 48;

/// Length of a Base64 HMAC-SHA1 signature.
pub const SIGNATURE_LEN: usize = 28;

/// Access key, secret key and optional security token (Java `SessionCredentials`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SessionCredentials<'k> {
    /// Sent as `AccessKey`.
    pub access_key: &'k str,
    /// The HMAC key; never sent.
    pub secret_key: &'k str,
    /// Sent as `SecurityToken` and signed, when present.
    pub security_token: Option<&'k str>,
}

impl core::fmt::Debug for SessionCredentials<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Keep the secret out of logs.
        f.debug_struct("SessionCredentials")
            .field("access_key", &self.access_key)
            .field("secret_key", &"***")
            .field("security_token", &self.security_token.map(|_| "***"))
            .finish()
    }
}

/// A Base64 signature in a fixed buffer.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature([u8; SIGNATURE_LEN]);

impl Signature {
    /// The Base64 text.
    pub fn as_str(&self) -> &str {
        // Base64 output is ASCII.
        core::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl core::fmt::Debug for Signature {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl core::fmt::Display for Signature {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for Signature {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl<'k> SessionCredentials<'k> {
    /// Credentials without a security token.
    pub const fn new(access_key: &'k str, secret_key: &'k str) -> Self {
        SessionCredentials {
            access_key,
            secret_key,
            security_token: None,
        }
    }

    /// With a security token.
    #[must_use]
    pub const fn with_security_token(mut self, token: &'k str) -> Self {
        self.security_token = Some(token);
        self
    }

    /// Sign `fields` and `body`; the result encodes the fields plus the ACL fields.
    /// [`EncodeError::CapacityExceeded`] if there are more than
    /// [`DEFAULT_MAX_SIGNED_FIELDS`] fields.
    pub fn sign<'a, F: EncodeFields + ?Sized>(
        &self,
        fields: &'a F,
        body: &[u8],
    ) -> Result<Signed<'a, F>, EncodeError>
    where
        'k: 'a,
    {
        self.sign_bounded::<DEFAULT_MAX_SIGNED_FIELDS, F>(fields, body)
    }

    /// [`sign`](Self::sign) collecting at most `N` fields.
    pub fn sign_bounded<'a, const N: usize, F: EncodeFields + ?Sized>(
        &self,
        fields: &'a F,
        body: &[u8],
    ) -> Result<Signed<'a, F>, EncodeError>
    where
        'k: 'a,
    {
        Ok(self.signed_with(fields, self.signature::<N, F>(fields, body)?))
    }

    /// Just the signature of `fields` (plus this access key / token) and `body`.
    pub fn signature<const N: usize, F: EncodeFields + ?Sized>(
        &self,
        fields: &F,
        body: &[u8],
    ) -> Result<Signature, EncodeError> {
        self.signature_fed::<N, F>(fields, |mac| mac.update(body))
    }

    /// The signature of `fields` and a JSON body written by `body` (streamed through
    /// the HMAC: the body need not exist in memory first).
    pub fn signature_of_body<const N: usize, F: EncodeFields + ?Sized, B: EncodeBody>(
        &self,
        fields: &F,
        body: &B,
    ) -> Result<Signature, EncodeError> {
        self.signature_fed::<N, F>(fields, |mac| body.encode(&mut MacOut(mac)))
    }

    fn signature_fed<const N: usize, F: EncodeFields + ?Sized>(
        &self,
        fields: &F,
        feed_body: impl FnOnce(&mut HmacSha1),
    ) -> Result<Signature, EncodeError> {
        let mut c = Collect::<N> {
            entries: heapless::Vec::new(),
            overflow: false,
        };
        fields.encode_fields(&mut Filter(&mut c));
        c.add(Text::new(ACCESS_KEY), FieldValue::from(self.access_key));
        if let Some(t) = self.security_token {
            c.add(Text::new(SECURITY_TOKEN), FieldValue::from(t));
        }
        if c.overflow {
            return Err(EncodeError::CapacityExceeded {
                what: "signed extFields",
                capacity: N as u32,
            });
        }
        // Java signs a map: one value per key, the last one put. Sort by key (a
        // `TreeMap<String, _>`: UTF-16 code-unit order), then by position so the last
        // duplicate comes last.
        crate::sort::sort_unstable_by(&mut c.entries, |a, b| {
            java_cmp(&a.1, &b.1).then(a.0.cmp(&b.0))
        });
        let mut mac = HmacSha1::new(self.secret_key.as_bytes())
            .ok_or(EncodeError::InvalidValue { field: "SecretKey" })?;
        let mut it = c.entries.iter().peekable();
        while let Some((_, k, v)) = it.next() {
            if it.peek().is_some_and(|(_, k2, _)| k2 == k) {
                continue;
            }
            v.write_plain(&mut MacOut(&mut mac));
        }
        feed_body(&mut mac);
        let digest = mac.finalize();
        let mut sig = [0u8; SIGNATURE_LEN];
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .encode_slice(digest, &mut sig)
            .map_err(|_| EncodeError::CapacityExceeded {
                what: "signature",
                capacity: SIGNATURE_LEN as u32,
            })?;
        Ok(Signature(sig))
    }

    /// [`Signed`] fields with a signature computed elsewhere (for example by
    /// [`signature_of_body`](Self::signature_of_body)).
    pub fn signed_with<'a, F: ?Sized>(&self, fields: &'a F, signature: Signature) -> Signed<'a, F>
    where
        'k: 'a,
    {
        Signed {
            fields,
            access_key: self.access_key,
            security_token: self.security_token,
            signature,
        }
    }
}

struct MacOut<'m>(&'m mut HmacSha1);

impl Out for MacOut<'_> {
    fn put(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

struct Collect<'s, const N: usize> {
    /// (position, key, value)
    entries: heapless::Vec<(usize, Text<'s>, FieldValue<'s>), N>,
    overflow: bool,
}

impl<'s, const N: usize> Collect<'s, N> {
    fn add(&mut self, key: Text<'s>, value: FieldValue<'s>) {
        let i = self.entries.len();
        if self.entries.push((i, key, value)).is_err() {
            self.overflow = true;
        }
    }
}

impl<'s, const N: usize> FieldSink<'s> for Collect<'s, N> {
    fn field(&mut self, key: Text<'s>, value: FieldValue<'s>) {
        self.add(key, value);
    }
}

/// Drops the ACL fields from the command's own fields, so the ones added by [`Signed`]
/// are the only ones signed and sent.
struct Filter<'x, S: ?Sized>(&'x mut S);

impl<'s, S: FieldSink<'s> + ?Sized> FieldSink<'s> for Filter<'_, S> {
    fn field(&mut self, key: Text<'s>, value: FieldValue<'s>) {
        if key == ACCESS_KEY || key == SECURITY_TOKEN || key == SIGNATURE {
            return;
        }
        self.0.field(key, value);
    }
}

/// Fields plus `AccessKey`, `SecurityToken` (if any) and `Signature`; encode it like any
/// other [`EncodeFields`]. Any ACL fields already in the wrapped fields are replaced.
#[derive(Debug, Clone, Copy)]
pub struct Signed<'a, F: ?Sized> {
    fields: &'a F,
    access_key: &'a str,
    security_token: Option<&'a str>,
    signature: Signature,
}

impl<F: ?Sized> Signed<'_, F> {
    /// The computed signature.
    pub fn signature(&self) -> Signature {
        self.signature
    }
}

impl<F: EncodeFields + ?Sized> EncodeFields for Signed<'_, F> {
    fn encode_fields<'s, S: FieldSink<'s> + ?Sized>(&'s self, sink: &mut S) {
        self.fields.encode_fields(&mut Filter(sink));
        sink.field(Text::new(ACCESS_KEY), FieldValue::from(self.access_key));
        if let Some(t) = self.security_token {
            sink.field(Text::new(SECURITY_TOKEN), FieldValue::from(t));
        }
        sink.field(
            Text::new(SIGNATURE),
            FieldValue::from(self.signature.as_str()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_order_differs_from_code_point_order() {
        use core::cmp::Ordering;
        // U+FF61 (one unit 0xFF61) sorts after U+10000 (0xD800 0xDC00) in UTF-16.
        let a = Text::new("\u{FF61}");
        let b = Text::new("\u{10000}");
        assert_eq!(java_cmp(&a, &b), Ordering::Greater);
        assert!("\u{FF61}" < "\u{10000}");
    }

    #[test]
    fn too_many_fields_is_typed() {
        let f = [("a", "1"), ("b", "2")];
        let c = SessionCredentials::new("ak", "sk");
        assert!(matches!(
            c.sign_bounded::<2, _>(&f, b""),
            Err(EncodeError::CapacityExceeded { .. })
        ));
        assert!(c.sign_bounded::<3, _>(&f, b"").is_ok());
    }
}

//! Settings shared by producers and consumers.

use std::time::Duration;

use rocketmq_proto::codes::SerializeType;
use rocketmq_proto::engine::client::Config;
use rocketmq_proto::engine::client_id::{ClientId, InstanceName};
use rocketmq_proto::engine::Millis;

use crate::driver::{local_ip, rand_u32};
use crate::error::Error;

/// Where the NameServers are and how this client presents itself.
///
/// ```
/// use rocketmq_tokio::ClientOptions;
/// let opts = ClientOptions::new("127.0.0.1:9876")
///     .namespace("prod")
///     .send_timeout(std::time::Duration::from_secs(5));
/// assert_eq!(opts.namesrv_addr(), "127.0.0.1:9876");
/// ```
#[derive(Debug, Clone)]
pub struct ClientOptions {
    namesrv: String,
    namespace: Option<String>,
    instance_name: Option<String>,
    send_timeout: Duration,
    request_timeout: Duration,
    credentials: Option<(String, String)>,
    serialize_type: SerializeType,
    #[cfg(feature = "tls")]
    tls: Option<crate::tls::TlsOptions>,
}

impl ClientOptions {
    /// NameServers as `host:port;host:port`.
    pub fn new(namesrv: impl Into<String>) -> Self {
        ClientOptions {
            namesrv: namesrv.into(),
            namespace: None,
            instance_name: None,
            send_timeout: Duration::from_secs(3),
            request_timeout: Duration::from_secs(3),
            credentials: None,
            serialize_type: SerializeType::Json,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// From `RMQ_NAMESRV`, else `127.0.0.1:9876`.
    pub fn from_env() -> Self {
        Self::new(std::env::var("RMQ_NAMESRV").unwrap_or_else(|_| "127.0.0.1:9876".into()))
    }

    /// Put every topic and group under a namespace (Java `namespace`).
    pub fn namespace(mut self, ns: impl Into<String>) -> Self {
        self.namespace = Some(ns.into());
        self
    }

    /// A fixed instance name (default: `<pid>#<nonce>`, unique per start).
    pub fn instance_name(mut self, name: impl Into<String>) -> Self {
        self.instance_name = Some(name.into());
        self
    }

    /// Total budget of one send including retries (default 3 s).
    pub fn send_timeout(mut self, t: Duration) -> Self {
        self.send_timeout = t;
        self
    }

    /// Timeout of route queries, heartbeats and other requests (default 3 s).
    pub fn request_timeout(mut self, t: Duration) -> Self {
        self.request_timeout = t;
        self
    }

    /// Sign every request with ACL credentials (Java `AclClientRPCHook`): access key
    /// and secret key, each at most 128 bytes.
    pub fn credentials(
        mut self,
        access_key: impl Into<String>,
        secret_key: impl Into<String>,
    ) -> Self {
        self.credentials = Some((access_key.into(), secret_key.into()));
        self
    }

    /// How request headers are serialized (Java's `rocketmq.serialize.type`): JSON by
    /// default, as Java; [`SerializeType::RocketMq`] is the compact binary form, which
    /// costs the client (and the broker) less to encode and decode. Brokers answer in the
    /// form a request came in; bodies (heartbeats, routes) are JSON either way.
    ///
    /// ```
    /// use rocketmq_tokio::{ClientOptions, SerializeType};
    /// let opts = ClientOptions::new("127.0.0.1:9876").serialize_type(SerializeType::RocketMq);
    /// # let _ = opts;
    /// ```
    pub fn serialize_type(mut self, serialize_type: SerializeType) -> Self {
        self.serialize_type = serialize_type;
        self
    }

    /// Connect to NameServers and brokers over TLS (Java `useTLS`: all or nothing).
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: crate::tls::TlsOptions) -> Self {
        self.tls = Some(tls);
        self
    }

    pub(crate) fn tls_connector(&self) -> Result<crate::conn::Tls, Error> {
        #[cfg(feature = "tls")]
        {
            self.tls.as_ref().map(|t| t.connector()).transpose()
        }
        #[cfg(not(feature = "tls"))]
        {
            Ok(None)
        }
    }

    /// The NameServer list.
    pub fn namesrv_addr(&self) -> &str {
        &self.namesrv
    }

    pub(crate) fn request_timeout_value(&self) -> Duration {
        self.request_timeout
    }

    pub(crate) fn namespace_value(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// `name` (a topic or group) as the broker knows it: under the namespace, if any.
    pub(crate) fn wrap(namespace: Option<&str>, name: &str) -> String {
        namespace
            .and_then(|ns| rocketmq_proto::namespace::wrap::<512>(ns, name))
            .map_or_else(|| name.to_owned(), |w| w.as_str().to_owned())
    }

    pub(crate) fn engine_config(&self) -> Result<Config, Error> {
        let ip = local_ip().to_string();
        let instance = match &self.instance_name {
            Some(n) => InstanceName::Named(n),
            None => InstanceName::Process {
                pid: std::process::id(),
                nonce: u64::from(rand_u32()),
            },
        };
        let id = ClientId::build(&ip, instance, None).map_err(|e| Error::Invalid(e.to_string()))?;
        let mut config = Config::new(id);
        config.send_timeout = Millis(self.send_timeout.as_millis() as u64);
        config.request_timeout = Millis(self.request_timeout.as_millis() as u64);
        config.serialize_type = self.serialize_type;
        if let Some(ns) = &self.namespace {
            config.namespace = Some(
                ns.as_str()
                    .try_into()
                    .map_err(|_| Error::Invalid("namespace too long".into()))?,
            );
        }
        if let Some((ak, sk)) = &self.credentials {
            config.credentials = Some(
                rocketmq_proto::engine::client::Credentials::new(ak, sk)
                    .ok_or_else(|| Error::Invalid("ACL keys longer than 128 bytes".into()))?,
            );
        }
        Ok(config)
    }
}

//! NameServer request handlers (wire.md §6.1, §7.2–§7.4). Routes are computed from the
//! broker groups' current topic tables and the NameServer's registration set.

use std::collections::BTreeSet;

use rocketmq_proto::codes::{version, RequestCode, ResponseCode};
use rocketmq_proto::command::Command;
use rocketmq_proto::ext::NoFields;
use rocketmq_proto::header::GetRouteInfoRequest;

use super::codec::{self, BrokerEntry, QueueEntry};
use super::{Req, Sim};

impl Sim {
    pub(super) fn handle_namesrv(&mut self, req: &Req, cmd: &Command<'_>) {
        match RequestCode(req.code) {
            RequestCode::GET_ROUTEINFO_BY_TOPIC => {
                let h: GetRouteInfoRequest<'_> = match cmd.decode_fields() {
                    Ok(h) => h,
                    Err(e) => {
                        return self.error(req, ResponseCode::SYSTEM_ERROR, &format!("{e:?}"))
                    }
                };
                let topic = h.topic.to_string_lossless();
                // ClientRequestProcessor: standard JSON for clients ≥ 4.9.4 or on request.
                let standard =
                    req.version >= version::V4_9_4 || h.accept_standard_json_only == Some(true);
                match self.route_body(&topic, standard) {
                    Some(body) => self.respond(req, ResponseCode::SUCCESS, None, &NoFields, &body),
                    None => self.error(
                        req,
                        ResponseCode::TOPIC_NOT_EXIST,
                        &format!(
                            "No topic route info in name server for the topic: {topic}\n\
                             See http://rocketmq.apache.org/docs/faq/ for further details."
                        ),
                    ),
                }
            }
            RequestCode::GET_BROKER_CLUSTER_INFO => {
                let body = codec::cluster_info(&self.registered_brokers());
                self.respond(req, ResponseCode::SUCCESS, None, &NoFields, &body);
            }
            RequestCode::GET_ALL_TOPIC_LIST_FROM_NAMESERVER => {
                let topics: BTreeSet<String> = self
                    .groups
                    .values()
                    .filter(|g| {
                        g.spec
                            .addrs
                            .values()
                            .any(|a| self.ns_registered.contains(a))
                    })
                    .flat_map(|g| g.topics.keys().cloned())
                    .collect();
                let topics: Vec<String> = topics.into_iter().collect();
                let body = codec::string_list("topicList", &topics);
                self.respond(req, ResponseCode::SUCCESS, None, &NoFields, &body);
            }
            _ => self.error(
                req,
                ResponseCode::REQUEST_CODE_NOT_SUPPORTED,
                &format!(" request type {} not supported", req.code),
            ),
        }
    }

    /// Broker groups with at least one registered address, each with only those.
    fn registered_brokers(&self) -> Vec<BrokerEntry<'_>> {
        self.groups
            .values()
            .filter_map(|g| {
                let addrs: Vec<(i64, &str)> = g
                    .spec
                    .addrs
                    .iter()
                    .filter(|(_, a)| self.ns_registered.contains(*a))
                    .map(|(id, a)| (*id, a.as_str()))
                    .collect();
                (!addrs.is_empty()).then_some(BrokerEntry {
                    cluster: &g.spec.cluster,
                    name: &g.spec.name,
                    addrs,
                })
            })
            .collect()
    }

    /// The TopicRouteData body of `topic`, or `None` when no registered broker has it.
    fn route_body(&self, topic: &str, standard: bool) -> Option<Vec<u8>> {
        let mut brokers = Vec::new();
        let mut queues = Vec::new();
        for b in self.registered_brokers() {
            let Some(t) = self.groups.get(b.name).and_then(|g| g.topics.get(topic)) else {
                continue;
            };
            queues.push(QueueEntry {
                broker_name: b.name,
                read: t.read,
                write: t.write,
                perm: t.perm,
                sys_flag: t.sys_flag,
            });
            brokers.push(b);
        }
        if queues.is_empty() {
            return None;
        }
        Some(codec::topic_route(&brokers, &queues, standard))
    }
}

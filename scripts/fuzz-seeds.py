#!/usr/bin/env python3
"""Builds the fuzz seed corpora from the captured frames and the doc vectors.

Seeds are derived at run time (fuzz/corpus/ is not committed): whole frames for the
frame target, headers by serialization for the header targets, bodies by command for
the body targets.
"""
import os, pathlib, struct, hashlib

root = pathlib.Path(__file__).resolve().parent.parent
caps = root / "core" / "tests" / "data" / "captures"
corpus = root / "fuzz" / "corpus"

def put(target, data):
    d = corpus / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()).write_bytes(data)

put("other_bodies", b"\x02" + b'{"consumerIdList":["127.0.0.1@1#2","127.0.0.1@3#4"]}')
put("other_bodies", b"\x04" + b'{"clientId":"c","consumerGroup":"g","mqSet":[{"brokerName":"b","queueId":0,"topic":"t"}],"onlyThisBroker":false}')
put("other_bodies", b"\x05" + b'{"lockOKMQSet":[{"brokerName":"b","queueId":1,"topic":"t"}]}')
put("other_bodies", b"\x07" + b'{"messageQueueAssignments":[{"messageQueue":{"brokerName":"b","queueId":1,"topic":"t"},"mode":"PULL"}]}')
# Doc vectors that are not in the captures (messages.md §9 M1, M4; wire.md W6).
put("properties", b"TAGS\x01TagA\x02KEYS\x01k1 k2\x02WAIT\x01true\x02")
put("properties", b"A\x01\x02B\x01x\x02K\x01v1\x02K\x01v2\x02K\x01v")
put("route_body", b'{"brokerDatas":[{"brokerAddrs":{0:"10.2.3.117:10911"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":8,"topicSynFlag":0,"writeQueueNums":8}]}')
put("other_bodies", b"\x00" + b'{"brokerAddrTable":{"broker_37_master":{"brokerAddrs":{0:"172.16.16.37:10911"},"brokerName":"broker_37_master","cluster":"37_cluster"}},"clusterAddrTable":{"37_cluster":["broker_37_master"]}}')
put("other_bodies", b"\x01" + b'{"offsetTable":{{"brokerName":"RaftNode00","queueId":0,"topic":"topicB"}:11110,{"brokerName":"RaftNode00","queueId":1,"topic":"topicB"}:0}}')
put("batch", bytes.fromhex("00000020000000000000000000000000000000026d3100084b455953016b3102000000180000000000000000000000000000000002" "6d320000"))

for f in sorted(caps.glob("*.hex")):
    frame = bytes.fromhex(f.read_text().strip())
    name = f.name
    (word,) = struct.unpack(">I", frame[4:8])
    ser, hlen = word >> 24, word & 0xFFFFFF
    header, body = frame[8:8 + hlen], frame[8 + hlen:]
    put("frame", frame)
    put("json_header" if ser == 0 else "binary_header", header)
    put("ext_headers", bytes([ser]) + header)
    if "route-response" in name:
        put("route_body", body)
    if "heartbeat" in name and "request" in name:
        put("heartbeat_body", body)
    if "pull-response" in name:
        put("pull_body", body)
    if name == "send-batch-request.hex":
        put("batch", body)

# Hand-written seeds kept in the repository (e.g. engine scenarios reaching deliveries).
seeds = root / "fuzz" / "seeds"
if seeds.is_dir():
    for target in seeds.iterdir():
        for f in target.iterdir():
            put(target.name, f.read_bytes())

print("seeded:", ", ".join(sorted(f"{d.name}={len(list(d.iterdir()))}" for d in corpus.iterdir() if d.is_dir())))

"""Reads axion.deployment.events.v1 with a stock Kafka client, as another service would.

A confluent-kafka consumer (read_committed, as docs/EVENTS.md asks) is assigned every partition
of the topic from the beginning. Every record's value is decoded into the generated
axion.v1.EventEnvelope and its payload Any into the generated class named by the envelope's
type. For the records of one project (the record key), one JSON line per event goes to stdout:
its position, key, envelope fields, payload (as proto JSON) and CloudEvents headers. Reading
stops once the given deployment's terminal event was read and every partition is at its end,
or fails after --timeout seconds.

    python kafka_consumer.py --brokers HOST:PORT --generated GEN --project-id P --deployment-id D

GEN holds the classes generated from schemas/ (see axion_protos.py). Exit status 0 when the
deployment ended in the log and everything decoded; 1 on a record that does not decode; 2 on
timeout. A last line {"summary": ...} counts what was read.
"""

import argparse
import json
import sys
import time
import uuid

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition
from google.protobuf import json_format

import axion_protos

TOPIC = "axion.deployment.events.v1"
TERMINAL = {"axion.v1.DeploymentSucceeded", "axion.v1.DeploymentFailed",
            "axion.v1.DeploymentCancelled"}


def fail(message, code=1):
    print(f"kafka_consumer: {message}", file=sys.stderr)
    sys.exit(code)


def decode(envelope_class, message):
    """The record as a dict: envelope fields, the unpacked payload and the headers."""
    where = f"{message.topic()}[{message.partition()}]@{message.offset()}"
    envelope = envelope_class()
    try:
        envelope.ParseFromString(message.value() or b"")
    except Exception as error:  # protobuf raises DecodeError (a Message.Error) on bad bytes
        fail(f"{where}: value does not parse as axion.v1.EventEnvelope: {error}")
    if not envelope.event_id or not envelope.type:
        fail(f"{where}: not an EventEnvelope (no event_id or type)")
    try:
        payload_class = axion_protos.message_class(envelope.type)
    except KeyError:
        fail(f"{where}: event {envelope.event_id} has type {envelope.type}, "
             "which the generated classes do not know")
    payload = payload_class()
    if not envelope.payload.Is(payload.DESCRIPTOR) or not envelope.payload.Unpack(payload):
        fail(f"{where}: payload {envelope.payload.type_url} does not unpack as {envelope.type}")
    headers = {}
    for name, value in message.headers() or []:
        if name in headers:
            fail(f"{where}: header {name} appears twice")
        headers[name] = (value or b"").decode("utf-8")
    key = message.key()
    return {
        "topic": message.topic(),
        "partition": message.partition(),
        "offset": message.offset(),
        "key": key.decode("utf-8") if key is not None else None,
        "event_id": envelope.event_id,
        "type": envelope.type,
        "aggregate_type": envelope.aggregate_type,
        "aggregate_id": envelope.aggregate_id,
        "partition_key": envelope.partition_key,
        "sequence": envelope.sequence,
        "occurred_at": envelope.occurred_at.ToJsonString() if envelope.HasField("occurred_at")
        else "",
        "actor": envelope.actor,
        "correlation_id": envelope.correlation_id,
        "causation_id": envelope.causation_id,
        "schema_version": envelope.schema_version,
        "payload_type": payload.DESCRIPTOR.full_name,
        "payload": json_format.MessageToDict(payload, preserving_proto_field_name=True),
        "headers": headers,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--brokers", required=True)
    parser.add_argument("--generated", required=True, help="dir of the generated classes")
    parser.add_argument("--project-id", required=True, help="print this project's events")
    parser.add_argument("--deployment-id", required=True, help="read until it ended")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds")
    args = parser.parse_args()

    modules = axion_protos.load(args.generated)
    envelope_class = modules["envelope_pb2"].EventEnvelope

    consumer = Consumer({
        "bootstrap.servers": args.brokers,
        "group.id": f"axion-pyinterop-{uuid.uuid4()}",  # a group of its own; commits nothing
        "enable.auto.commit": False,
        "isolation.level": "read_committed",
        "enable.partition.eof": True,
    })
    deadline = time.monotonic() + args.timeout
    try:
        topic = consumer.list_topics(TOPIC, timeout=max(1.0, args.timeout / 4)).topics[TOPIC]
        if topic.error is not None:
            fail(f"{TOPIC}: {topic.error}")
        partitions = sorted(topic.partitions)
        consumer.assign([TopicPartition(TOPIC, p, OFFSET_BEGINNING) for p in partitions])
        at_end = set()
        ended = False
        records = printed = 0
        while not (ended and at_end == set(partitions)):
            if time.monotonic() > deadline:
                print(json.dumps({"summary": {"records": records, "printed": printed,
                                              "ended": ended}}))
                fail(f"timed out after {args.timeout} s: deployment ended in the log: {ended}, "
                     f"partitions at their end: {sorted(at_end)} of {partitions}", code=2)
            message = consumer.poll(0.5)
            if message is None:
                continue
            if message.error() is not None:
                if message.error().code() == KafkaError._PARTITION_EOF:
                    at_end.add(message.partition())
                    continue
                raise KafkaException(message.error())
            at_end.discard(message.partition())
            records += 1
            event = decode(envelope_class, message)  # every record, not only the project's
            if event["key"] != args.project_id:
                continue
            print(json.dumps(event, sort_keys=True))
            printed += 1
            # Deployment events are the project aggregate's; the payload names the deployment.
            if (event["payload"].get("deployment_id") == args.deployment_id
                    and event["type"] in TERMINAL):
                ended = True
        print(json.dumps({"summary": {"records": records, "printed": printed, "ended": ended}}))
    finally:
        consumer.close()


if __name__ == "__main__":
    main()

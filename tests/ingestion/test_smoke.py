import uuid
from datetime import UTC, datetime

import grpc
from bullseye.events.v1 import event_pb2 as ev
from bullseye.ingestion.v1 import ingestion_pb2 as pb
from bullseye.ingestion.v1 import ingestion_pb2_grpc as pb_grpc

from tests.conftest import create_key


async def test_smoke(ingestion, ingestion_env):
    key = create_key(ingestion_env, "--source", "smoke")
    event = ev.Event(event_id=str(uuid.uuid4()), identifiers=ev.Identifiers(anonymous_id="a1"))
    event.occurred_at.FromDatetime(datetime.now(UTC))
    event.page_viewed.name = "home"
    async with grpc.aio.insecure_channel(ingestion.address) as ch:
        stub = pb_grpc.IngestionServiceStub(ch)
        r = await stub.TrackBatch(pb.TrackBatchRequest(events=[event, event]), metadata=[("x-api-key", key)])
        print(r)
        assert r.result.accepted == 1 and r.result.duplicates == 1

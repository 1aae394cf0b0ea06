"""Publisher: batching by count and size, failed-entry retry and throttling (moto EventBridge)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config

from meshkit.events.envelope import entry_size, to_put_events_entry
from meshkit.events.erasure import ErasurePlanned
from meshkit.events.products import ProductCrawlFailed
from meshkit.runtime.errors import PublishError
from meshkit.runtime.publisher import MAX_BATCH_BYTES, Publisher, batches

if TYPE_CHECKING:
    from unit_support import MotoMesh


def crawl_failed(i: int, size: int = 50) -> ProductCrawlFailed:
    return ProductCrawlFailed(
        domain="sales", product="orders", crawler_name=f"crawler-{i}", error_message="e" * size
    )


class Calls:
    """Counts PutEvents requests and their entry counts through a botocore hook."""

    def __init__(self, client: Any) -> None:
        self.sizes: list[int] = []
        client.meta.events.register("before-call.events.PutEvents", self._record)

    def _record(self, params: dict[str, Any], **_: Any) -> None:
        self.sizes.append(len(json.loads(params["body"])["Entries"]))


def no_sleep(_: float) -> None:
    return None


def test_25_events_make_3_calls_and_reach_the_bus(moto_mesh: MotoMesh) -> None:
    calls = Calls(moto_mesh.clients.client("events"))
    publisher = Publisher(moto_mesh.clients, "mesh-bus", sleep=no_sleep)
    events = [crawl_failed(i) for i in range(25)]
    ids = publisher.publish(events)
    assert calls.sizes == [10, 10, 5]
    assert len(ids) == len(set(ids)) == 25
    delivered = moto_mesh.published()
    assert sorted(e["detail"]["crawler_name"] for e in delivered) == sorted(
        f"crawler-{i}" for i in range(25)
    )


def test_nothing_to_publish_makes_no_call(moto_mesh: MotoMesh) -> None:
    calls = Calls(moto_mesh.clients.client("events"))
    assert Publisher(moto_mesh.clients, "mesh-bus").publish([]) == []
    assert calls.sizes == []


def test_batches_split_on_size() -> None:
    # 3 entries of ~100 KB: two cannot share a 256 KB request with a third
    big = [to_put_events_entry(crawl_failed(i, 3900), bus="b") for i in range(3)]
    big = [dict(e, Detail=e["Detail"].replace("e" * 3900, "e" * 3900 + " " * 100_000)) for e in big]
    assert all(100_000 < entry_size(e) < 110_000 for e in big)
    assert batches(big) == [[0, 1], [2]]
    small = [to_put_events_entry(crawl_failed(i), bus="b") for i in range(3)]
    assert batches(small + big) == [[0, 1, 2, 3, 4], [5]]
    for batch in batches(small + big):
        assert sum(entry_size((small + big)[i]) for i in batch) <= MAX_BATCH_BYTES


def big_plan(i: int) -> ErasurePlanned:
    """A valid event of about 120 KB (120 object URIs of ~1 KB)."""
    objects = [f"s3://sales-data/{i}/{n:04d}/" + "k" * 990 for n in range(120)]
    return ErasurePlanned(
        erasure_id=f"er-0000000{i}", domain="sales", objects=objects, total_objects=120, rows=1
    )


def test_size_split_against_moto(moto_mesh: MotoMesh) -> None:
    calls = Calls(moto_mesh.clients.client("events"))
    events = [big_plan(i) for i in range(3)]
    assert all(100_000 < entry_size(to_put_events_entry(e, bus="b")) < 130_000 for e in events)
    Publisher(moto_mesh.clients, "mesh-bus", sleep=no_sleep).publish(events)
    assert calls.sizes == [2, 1]
    assert len(moto_mesh.published()) == 3


class FailEntries:
    """Fails the first entry of each PutEvents request, ``fail`` times, as AWS reports it.

    The doomed entry is redirected to a sink bus with no rules (so it reaches no target) and
    its result is rewritten to carry an ``ErrorCode``, exactly like a refused entry.
    """

    def __init__(self, client: Any, *, fail: int, code: str = "ThrottlingException") -> None:
        client.create_event_bus(Name="fault-sink")
        self.remaining = fail
        self.code = code
        self._doomed = False
        client.meta.events.register("before-parameter-build.events.PutEvents", self._before)
        client.meta.events.register("after-call.events.PutEvents", self._after)

    def _before(self, params: dict[str, Any], **_: Any) -> None:
        self._doomed = self.remaining > 0
        if self._doomed:
            self.remaining -= 1
            params["Entries"][0] = dict(params["Entries"][0], EventBusName="fault-sink")

    def _after(self, parsed: dict[str, Any], **_: Any) -> None:
        if self._doomed:
            parsed["Entries"][0] = {"ErrorCode": self.code, "ErrorMessage": "injected"}
            parsed["FailedEntryCount"] = sum(1 for r in parsed["Entries"] if r.get("ErrorCode"))


def test_failed_entries_are_retried_with_backoff(moto_mesh: MotoMesh) -> None:
    client = moto_mesh.clients.client("events")
    faults = FailEntries(client, fail=2)
    calls = Calls(client)
    delays: list[float] = []
    publisher = Publisher(moto_mesh.clients, "mesh-bus", sleep=delays.append, rng=lambda: 1.0)
    ids = publisher.publish([crawl_failed(i) for i in range(3)])
    assert faults.remaining == 0
    assert len(ids) == 3
    # first call: 3 entries, entry 0 refused; second: 1 entry, refused; third: accepted
    assert calls.sizes == [3, 1, 1]
    assert delays == [0.05, 0.1]  # exponential (full jitter with rng=1 shows the cap)
    delivered = moto_mesh.published()
    assert sorted(e["detail"]["crawler_name"] for e in delivered) == [
        "crawler-0",
        "crawler-1",
        "crawler-2",
    ]


def test_entries_still_failing_raise_publish_error(moto_mesh: MotoMesh) -> None:
    client = moto_mesh.clients.client("events")
    FailEntries(client, fail=100, code="InternalFailure")
    publisher = Publisher(moto_mesh.clients, "mesh-bus", max_attempts=3, sleep=no_sleep)
    with pytest.raises(PublishError, match="1 of 2 events could not be put") as info:
        publisher.publish([crawl_failed(0), crawl_failed(1)])
    assert info.value.failed[0]["error_code"] == "InternalFailure"
    assert info.value.failed[0]["detail_type"] == "ProductCrawlFailed"


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body


class Throttle:
    """Throttles the first ``times`` PutEvents requests (moto-capabilities.md §10).

    The doomed request's URL is rewritten so moto's stubber never executes it; botocore then
    receives a protocol-correct ThrottlingException and retries as it would against AWS.
    """

    def __init__(self, client: Any, times: int) -> None:
        self.remaining = times
        self.throttled = 0
        client.meta.events.register_first("before-send.events.PutEvents", self._send)

    def _send(self, request: Any, **_: Any) -> AWSResponse | None:
        if self.remaining <= 0:
            return None
        self.remaining -= 1
        self.throttled += 1
        request.url = "http://fault-injected.invalid/"
        body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()
        return AWSResponse(
            request.url,
            400,
            {"x-amzn-requestid": "fault", "content-type": "application/x-amz-json-1.1"},
            _Raw(body),
        )


class ConfiguredClients:
    def __init__(self, moto_mesh: MotoMesh, config: Config) -> None:
        self.events = moto_mesh.clients.session.client("events", config=config)

    def client(self, service: str, account: str | None = None) -> Any:
        assert service == "events"
        return self.events


def test_throttling_is_recovered_by_botocore_retries(
    moto_mesh: MotoMesh, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("time.sleep", no_sleep)  # botocore's own backoff
    clients = ConfiguredClients(
        moto_mesh, Config(retries={"mode": "standard", "total_max_attempts": 4})
    )
    throttle = Throttle(clients.events, times=2)
    ids = Publisher(clients, "mesh-bus", sleep=no_sleep).publish([crawl_failed(1)])
    assert throttle.throttled == 2
    assert len(ids) == 1
    assert len(moto_mesh.published()) == 1  # exactly once: doomed requests never reached moto


def test_throttling_beyond_botocore_retries_is_retried_by_the_publisher(
    moto_mesh: MotoMesh,
) -> None:
    clients = ConfiguredClients(
        moto_mesh, Config(retries={"mode": "standard", "total_max_attempts": 1})
    )
    throttle = Throttle(clients.events, times=2)
    delays: list[float] = []
    ids = Publisher(clients, "mesh-bus", sleep=delays.append).publish([crawl_failed(1)])
    assert (throttle.throttled, len(delays), len(ids)) == (2, 2, 1)
    assert len(moto_mesh.published()) == 1


def test_non_retryable_call_error_raises_at_once(moto_mesh: MotoMesh) -> None:
    publisher = Publisher(moto_mesh.clients, "no-such-bus", sleep=no_sleep)
    with pytest.raises(PublishError, match="no-such-bus"):
        publisher.publish([crawl_failed(1)])

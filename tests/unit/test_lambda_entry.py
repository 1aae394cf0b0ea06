"""The Lambda entrypoint: group lookup from MESHKIT_GROUP, router import once, resolution."""

from __future__ import annotations

import sys
import textwrap
from typing import TYPE_CHECKING, Any

import pytest

from meshkit import topology
from meshkit.events.access import AccessDecided
from meshkit.events.envelope import delivered_envelope
from meshkit.runtime import lambda_entry, router
from meshkit.runtime.router import EventRouter

if TYPE_CHECKING:
    from pathlib import Path

    from unit_support import MotoMesh

MODULE = textwrap.dedent(
    """
    from meshkit.events.access import AccessDecided
    from meshkit.runtime.router import EventRouter

    IMPORTS = [1]
    seen = []
    router = EventRouter("test.entry")

    @router.on(AccessDecided)
    def on_decided(event, ctx):
        seen.append((event.request_id, ctx.config.group))

    not_a_router = object()
    """
)


@pytest.fixture
def test_group(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    (tmp_path / "entry_test_handlers.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    groups = (
        topology.HandlerGroup(
            name="test.entry",
            role="central",
            router="entry_test_handlers:router",
            events=(AccessDecided,),
        ),
        topology.HandlerGroup(
            name="test.broken",
            role="central",
            router="entry_test_handlers:not_a_router",
            events=(AccessDecided,),
        ),
    )
    monkeypatch.setattr(topology, "GROUPS", groups)
    monkeypatch.setattr(lambda_entry, "_ROUTERS", {})
    yield
    sys.modules.pop("entry_test_handlers", None)


@pytest.mark.usefixtures("test_group")
def test_handler_resolves_with_the_groups_router(
    moto_mesh: MotoMesh, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = moto_mesh.runtime(group="test.entry")
    monkeypatch.setattr(router, "_DEFAULT_RUNTIME", runtime)
    monkeypatch.setenv("MESHKIT_GROUP", "test.entry")
    event = AccessDecided(request_id="req-00000001", approved=True, decided_by="owner")
    envelope = delivered_envelope(event, account="222222222222")
    assert lambda_entry.handler(envelope, None) is None
    assert lambda_entry.handler({"Records": []}, None) == {"batchItemFailures": []}
    module = sys.modules["entry_test_handlers"]
    assert module.seen == [("req-00000001", "test.entry")]
    assert lambda_entry.load_router("test.entry") is module.router  # imported once, cached
    assert isinstance(module.router, EventRouter)


@pytest.mark.usefixtures("test_group")
def test_clear_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MESHKIT_GROUP", raising=False)
    with pytest.raises(KeyError, match="MESHKIT_GROUP is not set"):
        lambda_entry.handler({}, None)
    with pytest.raises(LookupError, match="known groups"):
        lambda_entry.load_router("nope")
    with pytest.raises(TypeError, match="not a meshkit EventRouter"):
        lambda_entry.load_router("test.broken")


def test_runtime_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    from meshkit.runtime.idempotency import DynamoDBIdempotencyStore
    from meshkit.runtime.router import Runtime

    env = {
        "MESHKIT_MESH_NAME": "demo",
        "MESHKIT_ROLE": "central",
        "MESHKIT_ACCOUNT_ID": "111111111111",
        "MESHKIT_CENTRAL_ACCOUNT": "111111111111",
        "MESHKIT_BUS": "demo-central",
        "MESHKIT_IDEMPOTENCY_TABLE": "demo-idempotency",
        "MESHKIT_DLQ_URL": "https://sqs.us-east-1.amazonaws.com/111111111111/dlq",
        "AWS_REGION": "us-east-1",
    }
    rt = Runtime.from_env(env)
    assert isinstance(rt.idempotency, DynamoDBIdempotencyStore)
    assert rt.idempotency.table == "demo-idempotency"
    assert rt.publisher.bus == "demo-central"
    assert rt.config.dead_letter_queue_url == env["MESHKIT_DLQ_URL"]

"""Fixtures for local-mesh tests: a running LocalMesh whose groups run small recording routers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest
from test_lake_support import Lake, running_lake

from meshkit import topology
from meshkit.local.mesh import LocalMesh
from meshkit.runtime.router import EventRouter

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from meshkit.runtime.context import HandlerContext

CENTRAL = "111111111111"
SALES = "222222222222"
MARKETING = "333333333333"


@dataclass
class Seen:
    """One handler call a recording router saw."""

    group: str
    event: Any
    envelope: dict[str, Any]
    config_account: str
    domain: str | None
    receive_count: int = 1


@dataclass
class Recorder:
    """Routers for every topology group that record what they receive.

    ``behaviour[group]`` may be set to a callable (event, ctx) -> follow-ups (or raising) to
    make a group do something; by default a handler records and returns nothing.
    """

    seen: list[Seen] = field(default_factory=list)
    behaviour: dict[str, Callable[[Any, HandlerContext], Any]] = field(default_factory=dict)

    def routers(self) -> dict[str, EventRouter]:
        # The guard groups keep their own router: they reject whatever reaches them.
        return {g.name: self._router(g) for g in topology.GROUPS if not g.guard}

    def _router(self, g: topology.HandlerGroup) -> EventRouter:
        router = EventRouter(g.name)

        def handle(event: Any, ctx: HandlerContext) -> Any:
            self.seen.append(
                Seen(
                    group=g.name,
                    event=event,
                    envelope=ctx.envelope.to_dict(),
                    config_account=ctx.config.account_id,
                    domain=ctx.config.domain,
                )
            )
            action = self.behaviour.get(g.name)
            return action(event, ctx) if action is not None else None

        handle.__name__ = f"record_{g.env_name.replace('-', '_')}"
        router.on(*g.events, *g.aws_events)(handle)
        return router

    def of(self, group: str, detail_type: str | None = None) -> list[Seen]:
        return [
            s
            for s in self.seen
            if s.group == group
            and (detail_type is None or s.envelope["detail-type"] == detail_type)
        ]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def mesh(recorder: Recorder) -> Iterator[LocalMesh]:
    with LocalMesh(name="t", central_account=CENTRAL, routers=recorder.routers(), lake=False) as m:
        yield m


@pytest.fixture
def two_domains(mesh: LocalMesh) -> LocalMesh:
    mesh.add_domain("sales", account=SALES, register=False)
    mesh.add_domain("marketing", account=MARKETING, principals=("analyst", "bi"), register=False)
    return mesh


@pytest.fixture
def lake() -> Iterator[Lake]:
    """A running lake simulation over moto accounts (see test_lake_support)."""
    with running_lake() as world:
        yield world

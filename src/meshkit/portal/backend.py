"""What the portal acts on: identities, the registry, the bus and the lake of a mesh.

The portal never writes the registry and never grants: it reads the typed registry and sends
events *as the signed-in principal's account*, exactly as the CLI does, so central's handlers
(and their trust rules) decide. ``LocalBackend`` is the local mesh; on AWS each team runs the
portal with its own credentials (docs/portal.md).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from meshkit.events.base import EventDetail
    from meshkit.local.persist import LiveMesh
    from meshkit.local.types import QueryResult, TimelineEntry
    from meshkit.portal.search import SearchIndex
    from meshkit.registry import RegistryReader

__all__ = ["Identity", "LocalBackend"]

Role = Literal["owner", "consumer"]


@dataclass(frozen=True)
class Identity:
    """Who a portal user acts as: a domain's account, in a role, as one IAM principal."""

    domain: str
    account: str
    role: Role
    name: str
    principal: str

    @property
    def key(self) -> str:
        return f"{self.domain}/{self.role}/{self.name}"

    @property
    def label(self) -> str:
        what = "data owner" if self.role == "owner" else f"consumer ({self.name})"
        return f"{self.domain}: {what}, account {self.account}"


class LocalBackend:
    """A running local mesh (persisted or not); one lock serialises every mesh operation,
    since moto's state is process-wide."""

    def __init__(self, live: LiveMesh, *, index_seconds: float = 5.0) -> None:
        self.live = live
        self.mesh = live.mesh
        self.lock = threading.RLock()
        self._index: SearchIndex | None = None
        self._index_at = 0.0
        self._index_seconds = index_seconds

    def identities(self) -> list[Identity]:
        found: list[Identity] = []
        for name in sorted(self.mesh.domains):
            handle = self.mesh.domain(name)
            found.append(
                Identity(
                    name,
                    handle.account,
                    "owner",
                    "data-owner",
                    f"arn:aws:iam::{handle.account}:role/data-owner",
                )
            )
            for principal, arn in sorted(handle.resources.principals.items()):
                found.append(Identity(name, handle.account, "consumer", principal, arn))
        return found

    @property
    def registry(self) -> RegistryReader:
        return self.mesh.registry

    def now(self) -> Any:
        return self.mesh.clock()

    def put(self, identity: Identity, event: EventDetail) -> str:
        """Send ``event`` from ``identity``'s account onto its domain's bus, deliver it."""
        with self.lock:
            event_id = self.live.put(identity.domain, event)
            self._index = None
            return event_id

    def search_index(self) -> SearchIndex:
        """The product index, rebuilt after the portal's own events and every few seconds."""
        from meshkit.portal.search import SearchIndex

        with self.lock:
            stale = time.monotonic() - self._index_at > self._index_seconds
            if self._index is None or stale:
                self._index = SearchIndex(self.registry.products())
                self._index_at = time.monotonic()
            return self._index

    def lineage(self, domain: str, product: str) -> list[TimelineEntry]:
        """The handler calls of every flow about ``domain.product``: its registration, crawls,
        requests, grants, in order."""
        with self.lock:
            flows = {
                d.get("correlation_id")
                for d in self.mesh.published()
                if d.get("product") == product
                and domain in (d.get("domain"), d.get("producer_domain"))
            }
            flows.discard(None)
            return [e for e in self.mesh.timeline if e.correlation_id in flows]

    def query(self, identity: Identity, sql: str) -> QueryResult:
        with self.lock:
            return self.mesh.domain(identity.domain).query(sql, principal=identity.principal)

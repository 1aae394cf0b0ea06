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
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from meshkit.events.base import EventDetail
    from meshkit.local.persist import LiveMesh
    from meshkit.local.types import QueryResult, TimelineEntry
    from meshkit.operate import AwsTarget
    from meshkit.portal.search import SearchIndex
    from meshkit.registry import RegistryReader

__all__ = ["AwsBackend", "Backend", "Identity", "LocalBackend", "NotHere"]

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


class NotHere(RuntimeError):
    """What this backend cannot do (the page says so instead of failing)."""


class Backend(Protocol):
    """What the portal's pages use: the identities one may sign in as, the typed registry,
    the bus (as an identity's account), the product index, lineage and queries."""

    lock: threading.RLock
    mesh_name: str
    #: Why lineage is empty here (None: it is not).
    lineage_note: str | None

    def identities(self) -> list[Identity]: ...
    @property
    def registry(self) -> RegistryReader: ...
    def now(self) -> Any: ...
    def put(self, identity: Identity, event: EventDetail) -> str: ...
    def search_index(self) -> SearchIndex: ...
    def lineage(self, domain: str, product: str) -> list[TimelineEntry]: ...
    def query(self, identity: Identity, sql: str) -> QueryResult: ...


class _Indexed:
    """The product index, kept fresh without making a search wait: built on first use; once
    it is older than ``index_seconds`` (or the portal sent an event) a new one is built in the
    background while searches keep answering from the current one."""

    lock: threading.RLock

    def __init__(self, index_seconds: float) -> None:
        self._index: SearchIndex | None = None
        self._index_at = 0.0
        self._index_seconds = index_seconds
        self._rebuilding = False

    @property
    def registry(self) -> RegistryReader:  # pragma: no cover - each backend has its own
        raise NotImplementedError

    def search_index(self) -> SearchIndex:
        from meshkit.portal.search import SearchIndex

        with self.lock:
            if self._index is None:
                self._index = SearchIndex(self.registry.products())
                self._index_at = time.monotonic()
                return self._index
            index = self._index
            stale = time.monotonic() - self._index_at > self._index_seconds
            if stale and not self._rebuilding:
                self._rebuilding = True
                threading.Thread(target=self._rebuild, name="portal-index", daemon=True).start()
            return index

    def _rebuild(self) -> None:
        from meshkit.portal.search import SearchIndex

        try:
            with self.lock:  # the local mesh's state is process-wide: read under the lock
                products = self.registry.products()
            index = SearchIndex(products)
            with self.lock:
                self._index, self._index_at = index, time.monotonic()
        finally:
            self._rebuilding = False

    def _stale(self) -> None:
        self._index_at = 0.0  # rebuilt (in the background) on the next search


class LocalBackend(_Indexed):
    """A running local mesh (persisted or not); one lock serialises every mesh operation,
    since moto's state is process-wide."""

    lineage_note: str | None = None

    def __init__(self, live: LiveMesh, *, index_seconds: float = 5.0) -> None:
        super().__init__(index_seconds)
        self.live = live
        self.mesh = live.mesh
        self.mesh_name = live.mesh.name
        self.lock = threading.RLock()

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
            self._stale()
            return event_id

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


def role_arn(caller_arn: str) -> str:
    """The IAM principal behind an STS caller ARN: ``arn:P:sts::A:assumed-role/NAME/session``
    is the role ``arn:P:iam::A:role/NAME`` (a role's path is not in the STS ARN: give roles
    with a path explicitly); a user or role ARN is returned as it is."""
    parts = caller_arn.split(":", 5)
    if len(parts) == 6 and parts[2] == "sts" and parts[5].startswith("assumed-role/"):
        name = parts[5].split("/")[1]
        return f"arn:{parts[1]}:iam::{parts[4]}:role/{name}"
    return caller_arn


class AwsBackend(_Indexed):
    """The portal on AWS, run by a domain team with its own credentials (docs/portal.md).

    Whoever runs it signs in as that caller only: its account must be the one registered for
    ``domain``, and every event goes on the team's own domain bus from that account, so
    central's handlers decide with their usual sender checks. The registry is read with the
    caller's credentials (a read-only role on central's registry table). Lineage needs the
    handlers' logs (``meshkit trace --aws``) and queries run in Athena, not here.
    """

    lineage_note: str | None = (
        "Lineage comes from the handlers' logs on AWS: "
        "`meshkit trace --aws --log-group ... CORRELATION_ID`."
    )

    def __init__(
        self,
        target: AwsTarget,
        *,
        domain: str,
        mesh_name: str,
        role: Role = "owner",
        principal: str | None = None,
        index_seconds: float = 30.0,
    ) -> None:
        super().__init__(index_seconds)
        self.target = target
        self.domain = domain
        self.mesh_name = mesh_name
        self.role: Role = role
        self.principal = principal
        self.lock = threading.RLock()
        self._reader: RegistryReader | None = None

    @property
    def registry(self) -> RegistryReader:
        if self._reader is None:
            self._reader = self.target.registry
        return self._reader

    def now(self) -> Any:
        return self.target.now()

    def identities(self) -> list[Identity]:
        """The one identity this portal acts as: the caller, for ``domain``, checked against
        the registry (a team's portal cannot sign in as another team)."""
        caller = self.target._caller()
        account = str(caller["Account"])
        with self.lock:
            record = self.registry.domain(self.domain)
        if record is None or record.status != "ACTIVE":
            raise NotHere(f"domain {self.domain!r} is not registered in central's registry")
        if record.account_id != account:
            raise NotHere(
                f"these credentials are account {account}'s; domain {self.domain!r} is "
                f"account {record.account_id}'s: run the portal with that domain's credentials"
            )
        principal = self.principal or role_arn(str(caller["Arn"]))
        name = principal.rsplit("/", 1)[-1]
        return [Identity(self.domain, account, self.role, name, principal)]

    def put(self, identity: Identity, event: EventDetail) -> str:
        if identity.account != str(self.target._caller()["Account"]):
            raise NotHere(f"this portal sends as its caller's account, not {identity.account}")
        with self.lock:
            event_id = self.target.put(identity.domain, event)
            self._stale()
            return event_id

    def lineage(self, domain: str, product: str) -> list[TimelineEntry]:
        return []

    def query(self, identity: Identity, sql: str) -> QueryResult:
        raise NotHere(
            "the portal on AWS runs no queries: query the linked tables in Athena as your role "
            "(the request page names the database)"
        )

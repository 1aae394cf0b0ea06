"""LocalMesh: central and domain accounts on moto, wired from the topology, delivering to handlers.

The same routers Lambda runs are called with the same SQS batches; what moto does not do is
supplied here (envelope fidelity, schedules, delivery) and in ``meshkit.local.lake``.
"""

from __future__ import annotations

import importlib
import json
import logging
import re
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from meshkit import topology
from meshkit.events.base import EventDetail, new_correlation_id
from meshkit.events.domains import DomainRegistrationRequested
from meshkit.events.envelope import to_put_events_entry
from meshkit.local.accounting import Accounting
from meshkit.local.accounts import Account, AccountClients, internal_calls
from meshkit.local.delivery import Delivery, Endpoint, MeshNotIdleError
from meshkit.local.faults import Faults
from meshkit.local.hermetic import HermeticEnvironment
from meshkit.local.moto_patches import MotoPatches, route_event
from meshkit.local.provision import (
    MAX_RECEIVE_COUNT,
    CentralResources,
    DomainResources,
    QueueWiring,
    provision_central,
    provision_domain,
    provision_group,
)
from meshkit.local.types import DeadLetter, FlowStats, QueryResult, TimelineEntry
from meshkit.runtime.config import MeshConfig

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

    import boto3

    from meshkit.local.dropzone import LocalDropZone
    from meshkit.local.organization import LocalOrganization
    from meshkit.registry import (
        DomainRecord,
        ErasureRecord,
        ProductRecord,
        RegistryReader,
        RequestRecord,
    )
    from meshkit.runtime.router import Outcome

__all__ = ["CentralHandle", "DomainHandle", "Flow", "LocalMesh", "MeshNotIdleError"]

logger = logging.getLogger("meshkit.local")

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")


def _rate_period(expression: str) -> timedelta:
    match = _RATE.match(expression)
    if match is None:
        raise ValueError(
            f"the local mesh fires rate(...) schedules only, not {expression!r}; "
            "use rate(N minutes|hours|days)"
        )
    amount, unit = int(match.group(1)), match.group(2).rstrip("s")
    return timedelta(**{f"{unit}s": amount})


@dataclass
class Flow:
    """An accounting window opened by ``mesh.flow(name)``; ``stats`` fills in as it runs."""

    stats: FlowStats

    @property
    def name(self) -> str:
        return self.stats.name


@dataclass
class _Schedule:
    account: str
    rule: str
    arn: str
    period: timedelta
    next_fire: datetime


def _entry_for(event: EventDetail | Mapping[str, Any], bus: str) -> dict[str, Any]:
    """A PutEvents entry from a model, or from a raw ``{source, detail-type, detail}`` mapping
    (tests use raw ones to send malformed events)."""
    if isinstance(event, EventDetail):
        return to_put_events_entry(event, bus=bus)
    detail = event.get("detail", {})
    entry: dict[str, Any] = {
        "Source": event["source"],
        "DetailType": event.get("detail-type", event.get("detail_type")),
        "Detail": detail if isinstance(detail, str) else json.dumps(detail),
        "EventBusName": bus,
    }
    if event.get("resources"):
        entry["Resources"] = list(event["resources"])
    return entry


class _AccountHandle:
    def __init__(self, mesh: LocalMesh, account: Account, bus: str) -> None:
        self._mesh = mesh
        self._account = account
        self.bus = bus

    @property
    def account(self) -> str:
        return self._account.account_id

    @property
    def session(self) -> boto3.session.Session:
        return self._account.session

    def client(self, service: str) -> Any:
        """A boto3 client acting as this account (its calls are counted in flow windows)."""
        return self._account.client(service)

    def put(self, event: EventDetail | Mapping[str, Any]) -> str:
        """PutEvents on this account's mesh bus, as this account; returns the event id."""
        answer = self.client("events").put_events(Entries=[_entry_for(event, self.bus)])
        result = answer["Entries"][0]
        if answer.get("FailedEntryCount") or "EventId" not in result:
            raise RuntimeError(
                f"PutEvents refused the event: {result.get('ErrorCode')}: "
                f"{result.get('ErrorMessage')}"
            )
        return str(result["EventId"])


class CentralHandle(_AccountHandle):
    """The governance account."""

    def __init__(self, mesh: LocalMesh, account: Account, resources: CentralResources) -> None:
        super().__init__(mesh, account, resources.bus_name)
        self.resources = resources
        self.configs: dict[str, MeshConfig] = {}

    @property
    def config(self) -> MeshConfig:
        """Central's configuration (that of its first handler group)."""
        return next(iter(self.configs.values()))


class DomainHandle(_AccountHandle):
    """One domain: its account, bus, bucket, principals, and its view of the lake."""

    def __init__(self, mesh: LocalMesh, account: Account, resources: DomainResources) -> None:
        super().__init__(mesh, account, resources.bus_name)
        self.resources = resources
        self.configs: dict[str, MeshConfig] = {}

    @property
    def name(self) -> str:
        return self.resources.domain

    @property
    def bucket(self) -> str:
        return self.resources.bucket

    @property
    def storage_uri(self) -> str:
        return self.resources.storage_uri

    @property
    def crawler_role_arn(self) -> str:
        return self.resources.crawler_role_arn

    @property
    def config(self) -> MeshConfig:
        return next(iter(self.configs.values()))

    def register(self, *, sharing_mode: str | None = None, max_attempts: int = 8) -> int:
        """Register as the deployed stack does (``meshkit.runtime.registration``): send
        ``DomainRegistrationRequested`` until the domain's state records central's answer to
        this very request, delivering the mesh between sends; returns the number of sends."""
        from meshkit.runtime import registration

        mode = sharing_mode or self.config.setting("sharing_mode", "named")
        entry = _entry_for(
            DomainRegistrationRequested(
                domain=self.name,
                account_id=self.account,
                storage_uri=self.storage_uri,
                sharing_mode=mode,
            ),
            self.bus,
        )
        return registration.register(
            self.client("events"),
            self.client("dynamodb"),
            entry=entry,
            table=self.resources.state_table,
            domain=self.name,
            correlation_id=new_correlation_id(),
            timeout=3600.0,
            wait=self._deliver,
            max_attempts=max_attempts,
        )

    def _deliver(self, _seconds: float) -> None:
        """The local mesh's waiting: deliver until idle (time passes as delivery rounds)."""
        self._mesh.run_until_idle()

    def principal(self, name: str) -> str:
        """The IAM role ARN of one of the domain's named principals."""
        try:
            return self.resources.principals[name]
        except KeyError:
            raise KeyError(
                f"domain {self.name} has no principal {name!r}; it has "
                f"{sorted(self.resources.principals)} (add_domain(principals=...))"
            ) from None

    def upload(self, key: str, data: bytes) -> str:
        """Put an object into the domain's bucket; returns its ``s3://`` URI.

        ``key`` may be a full ``s3://`` URI of this bucket, a key already under the storage
        prefix (``products/...``), or a key relative to ``storage_uri``.
        """
        prefix = self.storage_uri.removeprefix(f"s3://{self.bucket}/")
        if key.startswith("s3://"):
            bucket, _, key = key.removeprefix("s3://").partition("/")
            if bucket != self.bucket:
                raise ValueError(f"{self.name} uploads into s3://{self.bucket}/ only, not {bucket}")
        elif not key.startswith(prefix):
            key = prefix + key.lstrip("/")
        self.client("s3").put_object(Bucket=self.bucket, Key=key, Body=data)
        return f"s3://{self.bucket}/{key}"

    def query(self, sql: str, principal: str | None = None) -> QueryResult:
        """Run ``sql`` as one of this domain's principals (name or role ARN; default: the
        first) over what this account was granted; PermissionError names a missing grant."""
        if principal is None:
            if not self.resources.principals:
                raise ValueError(f"domain {self.name} has no principals to query as")
            principal = next(iter(self.resources.principals.values()))
        elif not principal.startswith("arn:"):
            principal = self.principal(principal)
        result: QueryResult = self._mesh.lake.query(self.account, principal, sql)
        return result


class LocalMesh:
    """The whole mesh in one process; use as a context manager (it starts and stops moto).

    ``routers`` maps a handler group name to a router, replacing the topology's import path
    (tests use small routers). ``organization_accounts``: accounts in one AWS Organization
    (RAM invitations are then not needed between them). ``lake=False`` leaves out the lake
    simulation (cross-account Lake Formation/RAM, crawler, queries) for tests of the wiring.
    ``call_hooks``: extra botocore hooks installed on every simulated account's session (the IAM
    parity check, meshkit.local.iam, is one).
    """

    def __init__(
        self,
        name: str = "demo",
        central_account: str = "111111111111",
        region: str = "us-east-1",
        seed: int = 0,
        settings: Mapping[str, Any] | None = None,
        routers: Mapping[str, Any] | None = None,
        *,
        organization_accounts: Iterable[str] | None = None,
        start: datetime | None = None,
        lake: bool = True,
        datazone: bool = False,
        call_hooks: Sequence[Callable[[str, boto3.session.Session], None]] = (),
    ) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9]{0,19}", name):
            raise ValueError(
                f"mesh name {name!r} must be 1-20 lower-case letters or digits, starting with a "
                "letter, no '-' or '_' (it prefixes bucket, queue and rule names and is joined "
                "to domain names in database and crawler names)"
            )
        self.name = name
        self.central_account = central_account
        self.region = region
        self.seed = seed
        self.settings: dict[str, Any] = dict(settings or {})
        self._routers: dict[str, Any] = dict(routers or {})
        self._organization = set(organization_accounts) if organization_accounts else None
        self._start = (start or datetime.now(UTC)).replace(microsecond=0)
        self._offset = timedelta()
        self._wall0 = 0.0
        self.faults = Faults(seed)
        self.accounting = Accounting()
        self.timeline: list[TimelineEntry] = []
        self._watchers: list[Callable[[TimelineEntry], None]] = []
        self._published: list[tuple[str, dict[str, Any]]] = []
        self.domains: dict[str, DomainHandle] = {}
        self._accounts: dict[str, Account] = {}
        self._member_accounts: list[str] = []
        #: Central's name -> account binding (setting ``domain_accounts``), as the
        #: CentralGovernance construct's prop: built from add_domain and bind_domain calls.
        self._domain_accounts: dict[str, str] = dict(self.settings.pop("domain_accounts", {}))
        self._schedules: dict[str, _Schedule] = {}
        self._custom_groups = 0
        self._lock = threading.Lock()
        self._mock: Any = None
        self._hermetic = HermeticEnvironment()
        self._patches: MotoPatches | None = None
        self._lake: Any = None
        self._with_lake = lake
        #: Optional features (meshkit.topology.FEATURES) whose handler groups are deployed.
        self.features: tuple[str, ...] = ("datazone",) if datazone else ()
        self._datazone: Any = None
        self._central: CentralHandle | None = None
        self.delivery = Delivery(self.faults)
        #: Extra botocore hooks on every simulated account's session (``(account, session)``),
        #: e.g. meshkit.local.iam.IamParity.attach; registered before any client exists.
        self._call_hooks = tuple(call_hooks)

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> LocalMesh:
        from moto import mock_aws

        if self._mock is not None:
            raise RuntimeError("this LocalMesh is already running")
        self._wall0 = time.monotonic()
        self._patches = MotoPatches(self.clock)
        # Before moto starts: moto saves and sets its own fake credentials on top of this.
        self._hermetic.enter()
        self._mock = mock_aws()
        self._mock.start()
        try:
            self._patches.apply()
            if self._with_lake:
                from meshkit.local.lake import LakeSimulation

                self._lake = LakeSimulation(
                    region=self.region,
                    emit_aws_event=self._emit_for_lake,
                    clock=self.clock,
                    organization_accounts=self._organization,
                )
                self._lake.entry_fault = self.faults.lake_entry_fault
            if "datazone" in self.features:
                from meshkit.local.datazone import DataZoneSimulation

                self._datazone = DataZoneSimulation(
                    region=self.region,
                    emit_aws_event=self._emit_for_lake,
                    glue_tables=self._glue_tables,
                    clock=self.clock,
                )
            central = self._account(self.central_account)
            if self._datazone is not None:
                # DataZone in the governance account, set up as an administrator would: a
                # domain and the data-lake environment profile central's environments use.
                dz_domain = self._datazone.create_domain(self.central_account, f"{self.name}-mesh")
                profile = self._datazone.create_environment_profile(
                    dz_domain, "meshkit-data-lake", self.central_account
                )
                self.settings.setdefault(
                    "datazone", {"domain_ids": [dz_domain], "environment_profile_id": profile}
                )
            resources = provision_central(central, mesh=self.name, features=self.features)
            self._central = CentralHandle(self, central, resources)
            for group_name, wiring in resources.groups.items():
                config = self._central_config(group_name, wiring, resources)
                self._central.configs[group_name] = config
                self._deploy(central, wiring, config)
            self._sync_schedules()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self._patches is not None:
            self._patches.revert()
            self._patches = None
        if self._mock is not None:
            self._mock.stop()
            self._mock = None
        self._hermetic.exit()

    # -- accounts, clock -------------------------------------------------------------------

    def clock(self) -> datetime:
        """The mesh clock: wall time since the mesh started, plus whatever ``advance`` added."""
        elapsed = timedelta(seconds=time.monotonic() - self._wall0) if self._wall0 else timedelta()
        return self._start + elapsed + self._offset

    def _running(self) -> None:
        if self._mock is None:
            raise RuntimeError(
                "the mesh is not running: use it inside `with LocalMesh(...) as mesh:`"
            )

    def _account(self, account_id: str) -> Account:
        if not re.fullmatch(r"[0-9]{12}", account_id, re.ASCII):
            raise ValueError(f"account id must be 12 digits, not {account_id!r}")
        with self._lock:
            account = self._accounts.get(account_id)
            if account is None:
                hooks = [self.accounting.attach, *self._call_hooks, self.faults.attach]
                if self._lake is not None:
                    hooks.append(self._lake.attach)
                if self._datazone is not None:
                    hooks.append(self._datazone.attach)
                account = Account(account_id, region=self.region, mesh_name=self.name, hooks=hooks)
                self._accounts[account_id] = account
            return account

    def session(self, account_id: str) -> boto3.session.Session:
        """A session acting as any simulated account (created on first use)."""
        self._running()
        return self._account(account_id).session

    @property
    def central(self) -> CentralHandle:
        self._running()
        assert self._central is not None
        return self._central

    @property
    def datazone(self) -> Any:
        """The DataZone simulation (``LocalMesh(datazone=True)``)."""
        self._running()
        if self._datazone is None:
            raise RuntimeError("this mesh runs without DataZone: LocalMesh(datazone=True)")
        return self._datazone

    @property
    def datazone_domain_id(self) -> str:
        """The DataZone domain central publishes to."""
        self.datazone  # noqa: B018 - raises when DataZone is off
        return str(self.settings["datazone"]["domain_ids"][0])

    def _glue_tables(self, account: str, database: str) -> list[dict[str, Any]] | None:
        """A Glue database's tables (None when it does not exist), as DataZone's runs read them."""
        glue = self._account(account).client("glue")
        tables: list[dict[str, Any]] = []
        with internal_calls():
            try:
                for page in glue.get_paginator("get_tables").paginate(DatabaseName=database):
                    tables.extend(page["TableList"])
            except glue.exceptions.EntityNotFoundException:
                return None
        return tables

    @property
    def lake(self) -> Any:
        """The lake simulation (Lake Formation/RAM across accounts, crawler, queries)."""
        self._running()
        if self._lake is None:
            raise RuntimeError("this mesh runs without the lake simulation (LocalMesh(lake=False))")
        return self._lake

    def domain(self, name: str) -> DomainHandle:
        try:
            return self.domains[name]
        except KeyError:
            raise KeyError(
                f"no domain {name!r} in this mesh; known: {sorted(self.domains)}"
            ) from None

    # -- configuration and deployment ------------------------------------------------------

    def _base_settings(self) -> dict[str, Any]:
        return dict(self.settings)

    def _central_config(
        self, group: str, wiring: QueueWiring, resources: CentralResources
    ) -> MeshConfig:
        settings = self._base_settings()
        # One list shared by every central config: add_domain appends to it.
        settings["member_accounts"] = self._member_accounts
        settings["domain_accounts"] = self._domain_accounts
        settings.setdefault("erasure_secret", resources.erasure_secret)
        settings["location_role_arn"] = resources.location_role_arn
        return MeshConfig(
            mesh_name=self.name,
            role="central",
            account_id=self.central_account,
            region=self.region,
            central_account=self.central_account,
            bus=resources.bus_name,
            central_bus=resources.bus_arn,
            group=group,
            registry_table=resources.registry_table,
            idempotency_table=resources.idempotency_table,
            dead_letter_queue_url=wiring.dlq_url,
            max_receive_count=MAX_RECEIVE_COUNT,
            settings=settings,
        )

    def _domain_config(
        self,
        group: str,
        wiring: QueueWiring,
        resources: DomainResources,
        *,
        sharing_mode: str,
        extra: Mapping[str, Any],
    ) -> MeshConfig:
        assert self._central is not None
        settings = self._base_settings()
        settings.update(
            {
                "storage_uri": resources.storage_uri,
                "sharing_mode": sharing_mode,
                "crawler_role_arn": resources.crawler_role_arn,
                "principals": list(resources.principals.values()),
                "subject_index_table": resources.subject_index_table,
                "erasure_secret": resources.erasure_secret,
            }
        )
        settings.update(extra)
        return MeshConfig(
            mesh_name=self.name,
            role="domain",
            account_id=resources.account,
            region=self.region,
            central_account=self.central_account,
            bus=resources.bus_name,
            central_bus=self._central.resources.bus_arn,
            group=group,
            domain=resources.domain,
            registry_table=resources.state_table,
            idempotency_table=resources.idempotency_table,
            dead_letter_queue_url=wiring.dlq_url,
            max_receive_count=MAX_RECEIVE_COUNT,
            settings=settings,
        )

    def _router_for(self, group: str) -> Any:
        router = self._routers.get(group)
        if router is not None:
            return router
        path = topology.group(group).router
        module, _, attr = path.partition(":")
        try:
            return getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise ImportError(
                f"handler group {group}: cannot import its router {path!r} ({exc}); pass "
                f"LocalMesh(routers={{{group!r}: router}}) to use another one"
            ) from exc

    def _deploy(
        self, account: Account, wiring: QueueWiring, config: MeshConfig, router: Any = None
    ) -> Endpoint:
        from meshkit.runtime.publisher import Publisher
        from meshkit.runtime.router import Runtime

        clients = AccountClients(account, self._account)
        runtime = Runtime.for_config(
            config,
            clients,
            clock=self.clock,
            on_outcome=self._outcome_recorder(account.account_id, config),
            # Publisher retries are simulated time, like botocore's (see moto_patches).
            publisher=Publisher(clients, config.bus, sleep=lambda _seconds: None),
        )
        endpoint = Endpoint(
            account=account,
            wiring=wiring,
            router=router if router is not None else _LazyRouter(self, wiring.group),
            runtime=runtime,
        )
        self.delivery.add(endpoint)
        return endpoint

    def _outcome_recorder(self, account: str, config: MeshConfig) -> Any:
        label = config.domain or "central"

        def record(outcome: Outcome) -> None:
            envelope = outcome.envelope
            entry = TimelineEntry(
                at=self.clock(),
                account=account,
                domain=label,
                group=outcome.group or config.group,
                handler=outcome.handler,
                detail_type=outcome.detail_type or "?",
                status=outcome.status,
                ms=float(outcome.ms),
                correlation_id=outcome.correlation_id,
                error=outcome.error,
                sender=envelope.account if envelope is not None else None,
                event_id=envelope.id if envelope is not None else None,
            )
            self.timeline.append(entry)
            for watcher in list(self._watchers):
                watcher(entry)
            for follow_up in outcome.follow_ups:
                self._published.append((follow_up.DETAIL_TYPE, json.loads(follow_up.detail_json())))
            self.accounting.record_event()

        return record

    def watch(self, watcher: Callable[[TimelineEntry], None]) -> Callable[[], None]:
        """Call ``watcher`` with every timeline entry as it is recorded (a handler call, a
        duplicate or a rejection), for progress output; returns the function that stops it."""
        self._watchers.append(watcher)

        def stop() -> None:
            if watcher in self._watchers:
                self._watchers.remove(watcher)

        return stop

    def published(self, detail_type: str | None = None) -> list[dict[str, Any]]:
        """Details of the follow-up events handlers published, oldest first."""
        return [d for t, d in self._published if detail_type is None or t == detail_type]

    # -- domains and handlers --------------------------------------------------------------

    def add_domain(
        self,
        name: str,
        *,
        account: str,
        sharing_mode: str = "named",
        principals: Sequence[str] = ("analyst",),
        settings: Mapping[str, Any] | None = None,
        register: bool = True,
        datazone_project: str | None = None,
    ) -> DomainHandle:
        """Provision a domain as its CDK stack would, and (``register``) announce it.

        ``datazone_project`` (a mesh with ``datazone=True``): the DataZone project the domain
        publishes to and subscribes as, created when missing; the stack then sends
        ``DomainPublicationConfigured``, and DataZone subscriptions reach the domain's first
        principal unless ``settings`` names ``datazone_principals``.
        """
        self._running()
        if name in self.domains:
            raise ValueError(f"domain {name!r} already exists in this mesh")
        if account == self.central_account:
            raise ValueError("a domain needs its own account, not the central one")
        if sharing_mode not in ("named", "tag"):
            raise ValueError(f"sharing_mode must be 'named' or 'tag', not {sharing_mode!r}")
        bound = self._domain_accounts.get(name)
        if bound is not None and bound != account:
            raise ValueError(f"domain name {name!r} is bound to account {bound}, not {account}")
        acct = self._account(account)
        central = self._account(self.central_account)
        assert self._central is not None
        resources = provision_domain(
            acct,
            central,
            self._central.resources,
            mesh=self.name,
            domain=name,
            principals=principals,
            features=self.features,
        )
        handle = DomainHandle(self, acct, resources)
        extra = dict(settings or {})
        if datazone_project is not None:
            self.datazone  # noqa: B018 - raises when DataZone is off
        if "datazone" in self.features and resources.principals:
            # Every domain of a DataZone mesh may subscribe (its first principal receives).
            extra.setdefault("datazone_principals", [next(iter(resources.principals.values()))])
        for group_name, wiring in resources.groups.items():
            config = self._domain_config(
                group_name, wiring, resources, sharing_mode=sharing_mode, extra=extra
            )
            handle.configs[group_name] = config
            self._deploy(acct, wiring, config)
        self.domains[name] = handle
        self._domain_accounts[name] = account
        if account not in self._member_accounts:
            self._member_accounts.append(account)
        self._sync_schedules()
        if register:
            handle.put(
                DomainRegistrationRequested(
                    domain=name,
                    account_id=account,
                    storage_uri=resources.storage_uri,
                    sharing_mode=sharing_mode,
                )
            )
        if datazone_project is not None:
            from meshkit.events.publication import DomainPublicationConfigured

            sim, dz_domain = self._datazone, self.datazone_domain_id
            try:
                sim.project_id(dz_domain, datazone_project)
            except KeyError:
                sim.create_project(dz_domain, datazone_project)
            handle.put(
                DomainPublicationConfigured(
                    domain=name, datazone_domain_id=dz_domain, project_name=datazone_project
                )
            )
        return handle

    def add_handler(
        self,
        where: str,
        models: Sequence[type[EventDetail]],
        router: Any,
        *,
        settings: Mapping[str, Any] | Any = None,
        any_sender: bool = False,
    ) -> QueueWiring:
        """Deploy a team's own handler group as ``add_handler`` / ``MeshEventSource`` do: the
        rules of ``meshkit.topology.custom_rules`` -> queue (+DLQ) -> router.

        ``where`` is ``"central"`` or a domain name. Mesh events are matched on that account's
        mesh bus (an event only central sends: from central only, unless ``any_sender``), AWS
        service events on its default bus. ``settings`` (a mapping or a pydantic model) are
        added to the group's configuration, read by the handler through ``ctx.config``.
        """
        self._running()
        assert self._central is not None
        rules = topology.custom_rules(
            models, central_account=self.central_account, any_sender=any_sender
        )
        self._custom_groups += 1
        group = str(getattr(router, "name", "") or f"custom-{self._custom_groups}")
        env = re.sub(r"[^A-Za-z0-9-]", "-", group)
        if where == "central":
            account = self._account(self.central_account)
            bus, prefix = self._central.resources.bus_name, f"{self.name}-{env}"
        else:
            handle = self.domain(where)
            account = self._account(handle.account)
            bus, prefix = handle.resources.bus_name, f"{self.name}-{where}-{env}"

        def rule_name(rule: topology.CustomRule) -> str:
            # The first mesh rule keeps the group's name, as it always had.
            if rule.bus == "default":
                return f"{prefix}-aws"
            return prefix if rule.id == "MeshRule" else f"{prefix}-{rule.id.lower()}"

        wiring = provision_group(
            account,
            name=group,
            queue_name=prefix,
            domain=None if where == "central" else where,
            mesh_rules=[(bus, rule_name(r), r.pattern) for r in rules if r.bus == "mesh"],
            default_rules=[(rule_name(r), r.pattern, None) for r in rules if r.bus == "default"],
        )
        what = f"add_handler({where!r}, router {group!r})"
        if where == "central":
            config = self._central_config(group, wiring, self._central.resources)
            config = config.with_settings(settings, what=what)
            self._central.configs.setdefault(group, config)
        else:
            handle = self.domain(where)
            base = handle.config
            config = self._domain_config(
                group,
                wiring,
                handle.resources,
                sharing_mode=str(base.settings.get("sharing_mode", "named")),
                extra=dict(base.settings.items()),
            ).with_settings(settings, what=what)
            handle.configs.setdefault(group, config)
        self._deploy(account, wiring, config, router)
        return wiring

    def bind_domain(self, name: str, account: str) -> None:
        """Bind domain name ``name`` to ``account`` in central's ``domain_accounts`` (what
        ``CentralGovernance(domain_accounts=...)`` does): only that account may register the
        name. ``add_domain`` binds its own name; this is for names registered by hand."""
        self._domain_accounts[name] = account

    def add_member(self, account: str) -> None:
        """Admit ``account`` to the mesh (central's allowlist) without deploying a domain in it:
        what an organisation or an explicit allowlist does in the cloud."""
        if account not in self._member_accounts:
            self._member_accounts.append(account)

    def add_drop_zone(
        self,
        domain: str,
        *,
        partners: Mapping[str, Mapping[str, Any]],
        max_session_seconds: int = 3_600,
    ) -> LocalDropZone:
        """Deploy a drop zone for ``domain``'s partners, as the ``DropZone`` construct does
        (see ``meshkit.local.dropzone``)."""
        from meshkit.local.dropzone import LocalDropZone

        self._running()
        return LocalDropZone(
            self, self.domain(domain), partners, max_session_seconds=max_session_seconds
        )

    def use_organization(
        self,
        org: LocalOrganization,
        *,
        paths: Sequence[str] = (),
        cache_seconds: int | None = None,
    ) -> None:
        """Let ``org`` decide membership at central, as ``CentralGovernance(organization_id=...,
        organization_paths=...)`` does: central then reads Organizations (from the management
        account) instead of the allowlist ``add_domain`` keeps."""
        extra: dict[str, Any] = {
            "organization_id": org.id,
            "organization_paths": list(paths),
            "organization_management_account": org.management_account,
        }
        if cache_seconds is not None:
            extra["organization_cache_seconds"] = cache_seconds
        self.settings.update(extra)
        # Deployed central runtimes hold these very dicts (built by _central_config) and read
        # them per event, as a Lambda reads its environment on a new deployment.
        for config in self.central.configs.values():
            config.settings.update(extra)  # type: ignore[attr-defined]

    def central_resources(self) -> dict[str, int]:
        """How many rules, queues and tables the central account holds (for scale checks)."""
        with self.quiet():
            events = self.central.client("events")
            rules = sum(
                len(events.list_rules(EventBusName=bus)["Rules"])
                for bus in ("default", self.central.bus)
            )
            queues = len(self.central.client("sqs").list_queues().get("QueueUrls", []))
            tables = len(self.central.client("dynamodb").list_tables()["TableNames"])
        return {"rules": rules, "queues": queues, "tables": tables}

    # -- events ----------------------------------------------------------------------------

    def put_from(
        self, account: str, event: EventDetail | Mapping[str, Any], bus: str = "central"
    ) -> str:
        """Put ``event`` as ``account`` onto ``bus``: ``"central"``, a domain's name, or a bus
        name of ``account`` itself. Lets tests forge senders (any account may PutEvents to a
        bus whose policy allows it; the envelope's ``account`` is always the sender's)."""
        self._running()
        assert self._central is not None
        if bus == "central":
            owner, bus_name = self.central_account, self._central.resources.bus_name
        elif bus in self.domains:
            owner, bus_name = self.domains[bus].account, self.domains[bus].resources.bus_name
        else:
            owner, bus_name = account, bus
        entry = _entry_for(event, bus_name)
        if owner == account:
            answer = self._account(account).client("events").put_events(Entries=[entry])
            return str(answer["Entries"][0]["EventId"])
        return route_event(
            owner,
            self.region,
            bus_name,
            source=entry["Source"],
            detail_type=entry["DetailType"],
            detail=json.loads(entry["Detail"]),
            sender=account,
            resources=entry.get("Resources", ()),
            time=self.clock(),
        )

    def emit_aws_event(
        self,
        account: str,
        source: str,
        detail_type: str,
        detail: Mapping[str, Any],
        resources: Sequence[str] = (),
    ) -> str:
        """An AWS service event on ``account``'s default bus (PutEvents refuses ``aws.*``)."""
        self._running()
        self._account(account)
        return route_event(
            account,
            self.region,
            "default",
            source=source,
            detail_type=detail_type,
            detail=detail,
            resources=resources,
            time=self.clock(),
        )

    def _emit_for_lake(
        self,
        account: str,
        source: str,
        detail_type: str,
        detail: dict[str, Any],
        resources: list[str],
    ) -> None:
        self.emit_aws_event(account, source, detail_type, detail, resources)

    # -- delivery --------------------------------------------------------------------------

    def run_until_idle(self, max_rounds: int = 10_000) -> int:
        """Deliver until no queue holds a message and no crawl is pending; returns deliveries."""
        self._running()
        delivered = 0
        for _ in range(max_rounds):
            made = self.delivery.round()
            crawls = int(self._lake.run_pending_crawls()) if self._lake is not None else 0
            if self._datazone is not None:
                crawls += int(self._datazone.run_pending())
            delivered += made
            if made == 0 and crawls == 0:
                return delivered
        busy = self._busy_queues()
        raise MeshNotIdleError(
            f"the mesh did not settle within {max_rounds} rounds ({delivered} deliveries); "
            f"queues still holding messages: {busy or 'none (crawls keep starting)'}; "
            "a handler may be re-emitting the event it consumes"
        )

    def _busy_queues(self) -> list[str]:
        from moto.sqs.models import sqs_backends

        busy = []
        for ep in self.delivery.endpoints:
            queue = sqs_backends[ep.account.account_id][self.region].queues.get(
                ep.wiring.queue_url.rsplit("/", 1)[-1]
            )
            if queue is not None and queue.approximate_number_of_messages:
                busy.append(ep.wiring.queue_url)
        return busy

    def advance(self, delta: timedelta) -> int:
        """Move the mesh clock forward and fire the schedule rules due meanwhile (their events
        are queued; ``run_until_idle`` delivers them). Returns how many fired."""
        self._running()
        if delta < timedelta():
            raise ValueError("the mesh clock only moves forward")
        self._offset += delta
        self._sync_schedules()
        now = self.clock()
        fired = 0
        for schedule in self._schedules.values():
            while schedule.next_fire <= now:
                self._fire(schedule, schedule.next_fire)
                schedule.next_fire += schedule.period
                fired += 1
        return fired

    def _sync_schedules(self) -> None:
        from moto.events.models import events_backends

        for account_id in list(self._accounts):
            backend = events_backends[account_id][self.region]
            for bus in backend.event_buses.values():
                for rule in bus.rules.values():
                    if not rule.scheduled_expression or rule.arn in self._schedules:
                        continue
                    if rule.state == "DISABLED":
                        continue
                    period = _rate_period(rule.scheduled_expression)
                    self._schedules[rule.arn] = _Schedule(
                        account=account_id,
                        rule=rule.name,
                        arn=rule.arn,
                        period=period,
                        next_fire=self.clock() + period,
                    )

    def _fire(self, schedule: _Schedule, at: datetime) -> None:
        from moto.events.models import events_backends

        backend = events_backends[schedule.account][self.region]
        rule = backend.describe_rule(schedule.rule, None)
        assert self._patches is not None
        self._patches.deliver(
            rule,
            {
                "version": "0",
                "id": f"{schedule.rule}-{int(at.timestamp())}",
                "detail-type": "Scheduled Event",
                "source": "aws.events",
                "account": schedule.account,
                "time": at.timestamp(),
                "region": self.region,
                "resources": [schedule.arn],
                "detail": {},
                "ingestion-time": at.timestamp(),
            },
        )

    # -- inspection ------------------------------------------------------------------------

    @property
    def registry(self) -> RegistryReader:
        """Central's registry, typed and read-only (its reads are the mesh's own: not counted
        in flow windows)."""
        from meshkit.registry import RegistryReader

        self._running()
        assert self._central is not None
        client = _QuietClient(self.central.client("dynamodb"))
        return RegistryReader(client, self._central.resources.registry_table)

    def request(self, request_id: str) -> RequestRecord | None:
        """The registry's record of access request ``request_id`` (None when unknown)."""
        return self.registry.request(request_id)

    def erasure(self, erasure_id: str) -> ErasureRecord | None:
        """The registry's record of erasure ``erasure_id`` (None when unknown)."""
        return self.registry.erasure(erasure_id)

    def product(self, domain: str, name: str) -> ProductRecord | None:
        """The registry's record of product ``domain.name`` (None when not registered)."""
        return self.registry.product(domain, name)

    def registered_domains(self) -> list[DomainRecord]:
        """Every domain central's registry holds, by name (``mesh.domains`` is the dict of
        provisioned domain handles)."""
        return self.registry.domains()

    def link_names(self, producer_domain: str, product: str, table: str | None = None) -> str:
        """What a consumer types to query ``producer_domain.product``: its link database, or
        ``database.table`` when ``table`` (the product-local table name) is given."""
        from meshkit.registry import consumer_link_database_name, consumer_link_table_name

        database = consumer_link_database_name(self.name, producer_domain, product)
        if table is None:
            return database
        return f"{database}.{consumer_link_table_name(product, table)}"

    def dead_letters(self, account: str | None = None) -> list[DeadLetter]:
        """Messages in the groups' dead-letter queues (read without receiving them)."""
        from moto.sqs.models import sqs_backends

        self._running()
        letters: list[DeadLetter] = []
        for ep in self.delivery.endpoints:
            acct = ep.account.account_id
            if account is not None and acct != account:
                continue
            name = ep.wiring.dlq_url.rsplit("/", 1)[-1]
            queue = sqs_backends[acct][self.region].queues.get(name)
            if queue is None:
                continue
            for message in list(queue._messages):
                try:
                    body = json.loads(message.body)
                except ValueError:
                    body = {"raw": message.body}
                if not isinstance(body, dict):
                    body = {"raw": body}
                attributes = {
                    key: str(value.get("string_value", value.get("StringValue", value)))
                    if isinstance(value, dict)
                    else str(value)
                    for key, value in (message.message_attributes or {}).items()
                }
                letters.append(
                    DeadLetter(
                        account=acct,
                        queue=name,
                        body=body,
                        attributes=attributes,
                        receive_count=int(getattr(message, "approximate_receive_count", 0)),
                    )
                )
        return letters

    @contextmanager
    def flow(self, name: str) -> Iterator[Flow]:
        """An accounting window: API calls, polls and events while the block runs."""
        with self.accounting.window(name) as stats:
            yield Flow(stats)

    def calls(self) -> dict[str, int]:
        """Every call handlers and drivers made since the mesh started, by operation."""
        return dict(self.accounting.total)

    @contextmanager
    def quiet(self) -> Iterator[None]:
        """Calls made in this block are the mesh's own: not counted, never throttled."""
        with internal_calls():
            yield


class _QuietClient:
    """A client whose calls run as the mesh's own (``internal_calls``): inspection must not
    show up in flow accounting nor meet injected faults."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            with internal_calls():
                return attr(*args, **kwargs)

        return call


class _LazyRouter:
    """Imports a group's router on first delivery, so a mesh starts before every handler
    module exists (and a missing one fails that group's deliveries, not the whole mesh)."""

    def __init__(self, mesh: LocalMesh, group: str) -> None:
        self._mesh = mesh
        self._group = group
        self._router: Any = None

    def resolve(self, event: Any, context: Any = None, *, runtime: Any = None) -> Any:
        if self._router is None:
            self._router = self._mesh._router_for(self._group)
        return self._router.resolve(event, context, runtime=runtime)

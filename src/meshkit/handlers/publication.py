"""Publishing products to Amazon DataZone, and DataZone subscriptions through the mesh.

Central publishes: the product tables live in its catalog, so the DataZone environment and data
sources are central's. Each asynchronous DataZone step completes through DataZone's own event
(`Environment Deployment Completed`, `Data Source Created`, `Data Source Run Succeeded/Failed`,
`Subscription Request Created`) on the default bus of the account holding DataZone: nothing
polls, nothing sleeps.

* ``DomainPublicationConfigured`` (from the domain's own account) records how a domain wants its
  products published and binds its DataZone project to it (one domain per project).
* ``ProductSchemaUpdated`` republishes only when the published tables or columns changed: the
  environment of the domain's project is ensured, then the product's Glue data source (one per
  product, over the product's tables in central's catalog), then a run. The run's event ends in
  ``ProductPublished`` (asset ids) or ``ProductPublicationFailed`` (DataZone's message).
* ``Subscription Request Created``: the subscribing project's domain receives
  ``SubscriptionRequestReceived`` and answers with an ordinary ``AccessRequested``; the mesh
  decides as for any request (PII, approval, expiry). ``AccessGranted`` / ``AccessDenied`` /
  ``AccessRevoked`` / ``AccessExpired`` are then written back to DataZone. The mesh is
  authoritative: DataZone's subscription mirrors the mesh's request.
* ``ProductDeprecated`` and ``DomainDeregistered`` unpublish the product's listings.

Every step is idempotent: state lives in the registry under ``DZ*`` keys, DataZone entities are
found by name before they are created, and a duplicate or late event finds the step done.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from meshkit.events.access import (
    AccessDenied,
    AccessExpired,
    AccessGranted,
    AccessLinked,
    AccessLinkFailed,
    AccessRequested,
    AccessRevoked,
)
from meshkit.events.aws import (
    DataZoneDataSourceCreated,
    DataZoneDataSourceRunFailed,
    DataZoneDataSourceRunSucceeded,
    DataZoneEnvironmentDeploymentCompleted,
    DataZoneEnvironmentDeploymentFailed,
    DataZoneSubscriptionRequestCreated,
    ScheduledEvent,
)
from meshkit.events.domains import DomainDeregistered
from meshkit.events.operations import EventRejected
from meshkit.events.products import ProductDeprecated, ProductSchemaUpdated
from meshkit.events.publication import (
    DomainPublicationConfigured,
    ProductPublicationFailed,
    ProductPublished,
    ProductUnpublished,
    SubscriptionRequestReceived,
)
from meshkit.handlers._common import (
    aws_error_code,
    iso,
    require_central,
    require_own_account,
    require_sender,
)
from meshkit.handlers.registry import ConditionFailed, Registry
from meshkit.runtime.errors import RejectEvent, RetryLater
from meshkit.runtime.router import EventRouter

if TYPE_CHECKING:
    from meshkit.events.base import EventDetail
    from meshkit.runtime.context import HandlerContext

__all__ = [
    "DATAZONE_ACTIONS",
    "ENVIRONMENT_NAME",
    "central",
    "data_source_name",
    "domain",
    "request_id_for",
    "table_fingerprint",
]

central = EventRouter("central.publication")
domain = EventRouter("domain.publication")

#: The IAM actions of the DataZone calls these handlers make (and nothing else); the
#: contract test checks them against the calls of a full flow.
DATAZONE_ACTIONS = (
    "datazone:GetProject",
    "datazone:GetEnvironment",
    "datazone:GetDataSource",
    "datazone:ListProjects",
    "datazone:ListEnvironments",
    "datazone:CreateEnvironment",
    "datazone:ListDataSources",
    "datazone:CreateDataSource",
    "datazone:UpdateDataSource",
    "datazone:StartDataSourceRun",
    "datazone:GetDataSourceRun",
    "datazone:ListDataSourceRunActivities",
    "datazone:CreateListingChangeSet",
    "datazone:CreateAssetRevision",
    "datazone:GetSubscriptionRequestDetails",
    "datazone:AcceptSubscriptionRequest",
    "datazone:RejectSubscriptionRequest",
    "datazone:ListSubscriptions",
    "datazone:RevokeSubscription",
    "datazone:ListSubscriptionGrants",
    "datazone:UpdateSubscriptionGrantStatus",
)


#: How long a publication waits for DataZone's event before the hourly reconcile reads the
#: step's state itself (DataZone's events are best effort: a lost one must not stall it).
RECONCILE_AFTER = timedelta(minutes=15)

#: Sparse ``gsi2`` partition of the publications waiting for a DataZone event, sorted by
#: when the reconcile should look (``<due>#<key>``): it reads exactly those that are late.
IN_FLIGHT = "DZINFLIGHT"

#: Publication states that wait for a DataZone event.
WAITING_STATES = ("WAITING_ENVIRONMENT", "WAITING_DATA_SOURCE", "RUNNING")


def _in_flight(ctx: HandlerContext, key: str) -> dict[str, Any]:
    return {"gsi2pk": IN_FLIGHT, "gsi2sk": f"{iso(ctx.now() + RECONCILE_AFTER)}#{key}"}


#: A publication that waits for nothing leaves the in-flight index.
_LANDED: dict[str, Any] = {"gsi2pk": None, "gsi2sk": None}


#: The environment meshkit creates (or reuses) in each publishing project.
ENVIRONMENT_NAME = "meshkit-{mesh}"


def data_source_name(mesh: str, domain_name: str, product: str) -> str:
    """The product's DataZone data source (unambiguous: '.' is in no mesh, domain or product)."""
    return f"{mesh}.{domain_name}.{product}"


#: Correlation ids of subscription flows: a rejection anywhere on the way finds its way back.
SUBSCRIPTION_CORRELATION = "datazone-subscription:"


def request_id_for(subscription_request_id: str) -> str:
    """The mesh request id a DataZone subscription request becomes."""
    return f"dz-{subscription_request_id}"


def table_fingerprint(tables: list[dict[str, Any]]) -> str:
    """A digest of what DataZone shows of the tables: names, columns, types, partition keys."""
    canonical = sorted(
        (
            t["name"],
            [(c["name"], c.get("type", "")) for c in t.get("columns", [])],
            [(c["name"], c.get("type", "")) for c in t.get("partition_keys", [])],
        )
        for t in tables
    )
    return hashlib.sha256(json.dumps(canonical).encode()).hexdigest()[:32]


# -- configuration and clients -------------------------------------------------------------
def _settings(ctx: HandlerContext) -> dict[str, Any]:
    value = ctx.config.setting("datazone", None)
    if not isinstance(value, dict) or not value.get("domain_ids"):
        raise RejectEvent(
            "DataZone publishing is not configured in central (CentralGovernance datazone=...)",
            kind="state",
        )
    return value


def _client(ctx: HandlerContext) -> Any:
    """DataZone in its account: central's own, or another one through the cross-account role."""
    account = str(_settings(ctx).get("account") or ctx.account_id)
    return ctx.client("datazone", None if account == ctx.account_id else account)


def _datazone_account(ctx: HandlerContext) -> str:
    return str(_settings(ctx).get("account") or ctx.account_id)


def _error(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        message = response.get("Error", {}).get("Message") or str(exc)
        return f"{aws_error_code(exc)}: {message}"[:3900]
    return str(exc)[:3900]


def _owned_domain(
    ctx: HandlerContext, reg: Registry, name: str, event: EventDetail
) -> dict[str, Any]:
    item = reg.domain(name)
    if item is None or item.get("status") != "ACTIVE":
        # Publication settings may overtake the domain's own registration: try again later.
        raise RetryLater(f"domain {name!r} is not registered yet")
    require_sender(ctx, event, owner=item["account_id"])
    return item


# -- DomainPublicationConfigured -----------------------------------------------------------
@central.on(DomainPublicationConfigured)
def configure(event: DomainPublicationConfigured, ctx: HandlerContext) -> list[EventDetail]:
    settings = _settings(ctx)
    reg = Registry(ctx)
    owned = _owned_domain(ctx, reg, event.domain, event)
    if event.datazone_domain_id not in settings["domain_ids"]:
        raise RejectEvent(
            f"DataZone domain {event.datazone_domain_id} is not one central publishes to "
            f"({sorted(settings['domain_ids'])})",
            kind="validation",
        )
    dz = _client(ctx)
    project_id = event.project_id or _project_by_name(dz, event)
    project = dz.get_project(domainIdentifier=event.datazone_domain_id, identifier=project_id)
    claim = f"DZPROJECT#{event.datazone_domain_id}#{project_id}"
    try:
        reg.update(
            claim,
            {"domain": event.domain, "project_name": project["name"]},
            condition="attribute_not_exists(pk) OR #d = :d",
            names={"#d": "domain"},
            values={":d": event.domain},
        )
    except ConditionFailed:
        owner = (reg.get(claim) or {}).get("domain")
        raise RejectEvent(
            f"DataZone project {project['name']!r} ({project_id}) is already bound to domain "
            f"{owner!r}; a project publishes and subscribes for one domain",
            kind="state",
        ) from None
    previous = reg.get(f"DZDOMAIN#{event.domain}")
    if previous and previous.get("project_id") not in (None, project_id):
        reg.delete(f"DZPROJECT#{previous['datazone_domain_id']}#{previous['project_id']}")
    config = event.model_dump(mode="json", exclude={"correlation_id", "schema_version"})
    config["project_id"] = project_id
    config["domain_owner"] = owned.get("owner")
    reg.put({"pk": f"DZDOMAIN#{event.domain}", "sk": "META", **config})
    if not event.enabled:
        return _unpublish_domain(ctx, reg, event.domain, "publication disabled by the domain")
    # Products crawled before the domain asked to publish are published now.
    follow: list[EventDetail] = []
    for product in reg.query_index(f"DOMAINPRODUCTS#{event.domain}"):
        if product.get("status") == "ACTIVE" and product.get("schema"):
            out = _publish(ctx, reg, product, event.correlation_id)
            if out is not None:
                follow.append(out)
    return follow


def _project_by_name(dz: Any, event: DomainPublicationConfigured) -> str:
    found = dz.list_projects(domainIdentifier=event.datazone_domain_id, name=event.project_name)
    exact = [p for p in found.get("items", []) if p.get("name") == event.project_name]
    if len(exact) != 1:
        raise RejectEvent(
            f"DataZone domain {event.datazone_domain_id} has {len(exact)} projects named "
            f"{event.project_name!r}; give project_id",
            kind="validation",
        )
    return str(exact[0]["id"])


def _domain_config(reg: Registry, name: str) -> dict[str, Any] | None:
    config = reg.get(f"DZDOMAIN#{name}")
    return config if config and config.get("enabled") else None


def _published_tables(config: dict[str, Any], product: dict[str, Any]) -> list[dict[str, Any]]:
    """The product's crawled tables the domain's filters select (central table names)."""
    override: dict[str, Any] = next(
        (p for p in config.get("products", []) if p["product"] == product["product"]), {}
    )
    if override and not override.get("publish", True):
        return []
    chosen = {
        t["central_table"]
        for t in product["tables"]
        if any(fnmatch.fnmatchcase(t["name"], g) for g in config.get("include_tables", ["*"]))
        and not any(fnmatch.fnmatchcase(t["name"], g) for g in config.get("exclude_tables", []))
    }
    return [t for t in product.get("schema") or [] if t["name"] in chosen]


# -- ProductSchemaUpdated: publish when tables or columns changed --------------------------
@central.on(ProductSchemaUpdated)
def schema_updated(event: ProductSchemaUpdated, ctx: HandlerContext) -> EventDetail | None:
    reg = Registry(ctx)
    product = reg.product(event.domain, event.product)
    if product is None:
        raise RejectEvent(
            f"account {ctx.sender_account} does not own product {event.domain}.{event.product}"
        )
    require_sender(ctx, event, owner=product["producer_account"])
    # Publish what the event says the tables are (the onboarding group records the same).
    product = {**product, "schema": [t.model_dump(mode="json") for t in event.tables]}
    return _publish(ctx, reg, product, event.correlation_id)


def _publish(
    ctx: HandlerContext, reg: Registry, product: dict[str, Any], correlation_id: str
) -> EventDetail | None:
    config = _domain_config(reg, product["domain"])
    if config is None:
        return None  # this domain does not publish
    tables = _published_tables(config, product)
    key = f"DZPUB#{product['domain']}#{product['product']}"
    current = reg.get(key) or {}
    metadata = _metadata(config, product)
    fingerprint = hashlib.sha256(
        (table_fingerprint(tables) + json.dumps(metadata, sort_keys=True)).encode()
    ).hexdigest()[:32]
    if not tables:
        return None
    if current.get("fingerprint") == fingerprint and current.get("state") in (
        "PUBLISHED",
        "RUNNING",
        "WAITING_ENVIRONMENT",
        "WAITING_DATA_SOURCE",
    ):
        return None  # nothing DataZone shows has changed: no run
    reg.put(
        {
            "pk": key,
            "sk": "META",
            **{k: v for k, v in current.items() if k not in ("pk", "sk")},
            "domain": product["domain"],
            "product": product["product"],
            "producer_account": product["producer_account"],
            "database": product["central_database"],
            "tables": sorted(t["name"] for t in tables),
            "fingerprint": fingerprint,
            "datazone_domain_id": config["datazone_domain_id"],
            "project_id": config["project_id"],
            "state": "WAITING_ENVIRONMENT",
            "correlation_id": correlation_id,
            "metadata": metadata,
            "updated_at": iso(ctx.now()),
            **_in_flight(ctx, key),
        }
    )
    return _advance(ctx, reg, key)


def _metadata(config: dict[str, Any], product: dict[str, Any]) -> dict[str, Any]:
    """Business metadata for the product's assets: glossary terms, the description and the
    owner (the product's override, else the domain's publication setting, else the owner the
    domain registered with). DataZone V1 assets have no owner field of their own: the owner is
    the description's last line (docs/datazone.md)."""
    override: dict[str, Any] = next(
        (p for p in config.get("products", []) if p["product"] == product["product"]), {}
    )
    terms = override.get("glossary_terms")
    terms = config.get("glossary_terms", []) if terms is None else terms
    metadata: dict[str, Any] = {}
    if terms:
        metadata["glossaryTerms"] = sorted(terms)
    owner = override.get("owner") or config.get("owner") or config.get("domain_owner")
    line = f"Owner: {owner}" if owner else ""
    text = str(product.get("description") or "")
    if text or line:
        # The owner line survives any description length: the description is cut first.
        room = 2048 - (len(line) + 2 if line and text else len(line))
        metadata["description"] = "\n\n".join(x for x in (text[:room], line) if x)
    return metadata


def _environment(ctx: HandlerContext, reg: Registry, ddid: str, project_id: str) -> str | None:
    """The project's ACTIVE environment id, creating it if needed; None while it deploys."""
    claim_key = f"DZPROJECT#{ddid}#{project_id}"
    claim = reg.get(claim_key) or {}
    if claim.get("environment_status") == "ACTIVE":
        return str(claim["environment_id"])
    dz = _client(ctx)
    name = ENVIRONMENT_NAME.format(mesh=ctx.config.mesh_name)
    found = [
        e
        for e in dz.list_environments(
            domainIdentifier=ddid, projectIdentifier=project_id, name=name
        ).get("items", [])
        if e.get("name") == name
    ]
    if found:
        env = found[0]
    else:
        profile = _settings(ctx).get("environment_profile_id")
        if not profile:
            raise RejectEvent(
                "central's DataZone settings name no environment_profile_id to create the "
                f"environment {name!r} of project {project_id}",
                kind="state",
            )
        env = dz.create_environment(
            domainIdentifier=ddid,
            projectIdentifier=project_id,
            name=name,
            environmentProfileIdentifier=profile,
            description=f"meshkit mesh {ctx.config.mesh_name}: the products this project publishes",
        )
    status = str(env.get("status"))
    reg.update(claim_key, {"environment_id": env["id"], "environment_status": status})
    reg.put(
        {
            "pk": f"DZENV#{env['id']}",
            "sk": "META",
            "datazone_domain_id": ddid,
            "project_id": project_id,
        }
    )
    if status == "ACTIVE":
        return str(env["id"])
    if status in _ENVIRONMENT_FAILED:
        raise _StepFailed("environment", f"environment {env['id']} is {status}")
    return None  # CREATING: `Environment Deployment Completed` resumes


class _StepFailed(Exception):
    def __init__(self, stage: str, message: str) -> None:
        super().__init__(message)
        self.stage = stage
        self.message = message


def _advance(ctx: HandlerContext, reg: Registry, key: str) -> EventDetail | None:
    """Take one publication as far as it goes now; the next DataZone event takes it on."""
    pub = reg.get(key)
    if pub is None:
        return None
    try:
        return _advance_or_fail(ctx, reg, key, pub)
    except _StepFailed as failed:
        return _failed(ctx, reg, key, pub, failed.stage, failed.message)


def _advance_or_fail(
    ctx: HandlerContext, reg: Registry, key: str, pub: dict[str, Any]
) -> EventDetail | None:
    ddid, project_id = pub["datazone_domain_id"], pub["project_id"]
    env_id = _environment(ctx, reg, ddid, project_id)
    if env_id is None:
        reg.update(key, {"state": "WAITING_ENVIRONMENT", **_in_flight(ctx, key)})
        claim = f"DZPROJECT#{ddid}#{project_id}"
        _add_waiting(reg, claim, key)
        return None
    dz = _client(ctx)
    name = data_source_name(ctx.config.mesh_name, pub["domain"], pub["product"])
    configuration = {
        "glueRunConfiguration": {
            "relationalFilterConfigurations": [
                {
                    "databaseName": pub["database"],
                    "filterExpressions": [
                        {"type": "INCLUDE", "expression": t} for t in pub["tables"]
                    ],
                }
            ]
        }
    }
    source_id = pub.get("data_source_id")
    if not source_id:
        existing = [
            s
            for s in dz.list_data_sources(
                domainIdentifier=ddid, projectIdentifier=project_id, name=name
            ).get("items", [])
            if s.get("name") == name
        ]
        try:
            source = (
                existing[0]
                if existing
                else dz.create_data_source(
                    domainIdentifier=ddid,
                    projectIdentifier=project_id,
                    environmentIdentifier=env_id,
                    name=name,
                    type="GLUE",
                    description=f"meshkit product {pub['domain']}.{pub['product']}",
                    configuration=configuration,
                    publishOnImport=True,
                    enableSetting="ENABLED",
                )
            )
        except Exception as exc:
            if aws_error_code(exc) in (
                "ValidationException",
                "AccessDeniedException",
                "ResourceNotFoundException",
            ):
                raise _StepFailed("data_source", _error(exc)) from exc
            raise
        source_id = str(source["dataSourceId"] if "dataSourceId" in source else source["id"])
        reg.update(key, {"data_source_id": source_id})
        reg.put({"pk": f"DZSOURCE#{source_id}", "sk": "META", "publication": key})
        status = str(source.get("status", "READY"))
        if status == "CREATING":
            reg.update(key, {"state": "WAITING_DATA_SOURCE", **_in_flight(ctx, key)})
            return None  # `Data Source Created` resumes
        if status == "FAILED_CREATION":
            raise _StepFailed("data_source", f"data source {source_id} failed to create")
    elif pub.get("configured_tables") != pub["tables"]:
        dz.update_data_source(
            domainIdentifier=ddid, identifier=source_id, configuration=configuration
        )
    try:
        run = dz.start_data_source_run(domainIdentifier=ddid, dataSourceIdentifier=source_id)
    except Exception as exc:
        code = aws_error_code(exc)
        if code == "ConflictException":
            # Still creating, or a run is in progress: the next event for it resumes us.
            reg.update(key, {"state": "WAITING_DATA_SOURCE", **_in_flight(ctx, key)})
            return None
        if code in ("ValidationException", "AccessDeniedException", "ResourceNotFoundException"):
            raise _StepFailed("run", _error(exc)) from exc
        raise
    reg.update(
        key,
        {
            "state": "RUNNING",
            "run_id": run["id"],
            "configured_tables": pub["tables"],
            **_in_flight(ctx, key),
        },
    )
    return None


def _add_waiting(reg: Registry, claim: str, key: str) -> None:
    item = reg.get(claim) or {}
    waiting = sorted(set(item.get("waiting", [])) | {key})
    reg.update(claim, {"waiting": waiting})


def _failed(
    ctx: HandlerContext,
    reg: Registry,
    key: str,
    pub: dict[str, Any],
    stage: str,
    message: str,
) -> EventDetail:
    reg.update(key, {"state": "FAILED", "failure": f"{stage}: {message}", **_LANDED})
    return ProductPublicationFailed(
        domain=pub["domain"],
        product=pub["product"],
        datazone_domain_id=pub["datazone_domain_id"],
        stage=stage,
        message=message,
        recipients=[pub["producer_account"]],
        correlation_id=pub["correlation_id"],
    )


# -- DataZone's completion events ----------------------------------------------------------
def _require_datazone_account(ctx: HandlerContext) -> None:
    envelope = ctx.envelope
    require_sender(
        ctx, f"{envelope.source}/{envelope.detail_type}", datazone=_datazone_account(ctx)
    )


@central.on(DataZoneEnvironmentDeploymentCompleted)
def environment_completed(
    event: DataZoneEnvironmentDeploymentCompleted, ctx: HandlerContext
) -> list[EventDetail]:
    return _environment_event(event.entity_id("environmentId"), ctx, failed=False)


@central.on(DataZoneEnvironmentDeploymentFailed)
def environment_failed(
    event: DataZoneEnvironmentDeploymentFailed, ctx: HandlerContext
) -> list[EventDetail]:
    return _environment_event(event.entity_id("environmentId"), ctx, failed=True)


def _environment_event(
    env_id: str | None, ctx: HandlerContext, *, failed: bool
) -> list[EventDetail]:
    _require_datazone_account(ctx)
    return _environment_done(ctx, Registry(ctx), env_id, failed=failed)


def _environment_done(
    ctx: HandlerContext, reg: Registry, env_id: str | None, *, failed: bool
) -> list[EventDetail]:
    env = reg.get(f"DZENV#{env_id}") if env_id else None
    if env is None:
        return []  # not an environment meshkit created
    claim_key = f"DZPROJECT#{env['datazone_domain_id']}#{env['project_id']}"
    claim = reg.get(claim_key) or {}
    # The event is DataZone's own word on the deployment: no status read (the seed's poll).
    status = "CREATE_FAILED" if failed else "ACTIVE"
    reg.update(claim_key, {"environment_status": status, "waiting": None})
    out: list[EventDetail] = []
    for key in claim.get("waiting", []):
        pub = reg.get(key)
        if pub is None or pub.get("state") != "WAITING_ENVIRONMENT":
            continue
        if failed or status != "ACTIVE":
            out.append(
                _failed(
                    ctx,
                    reg,
                    key,
                    pub,
                    "environment",
                    f"environment {env_id} of project {env['project_id']} is {status}",
                )
            )
            continue
        result = _advance(ctx, reg, key)
        if result is not None:
            out.append(result)
    return out


@central.on(DataZoneDataSourceCreated)
def data_source_created(
    event: DataZoneDataSourceCreated, ctx: HandlerContext
) -> EventDetail | None:
    _require_datazone_account(ctx)
    reg = Registry(ctx)
    pointer = reg.get(f"DZSOURCE#{event.entity_id('dataSourceId')}")
    if pointer is None:
        return None
    pub = reg.get(pointer["publication"])
    if pub is None or pub.get("state") != "WAITING_DATA_SOURCE":
        return None  # already running or done: a duplicate or late event
    return _advance(ctx, reg, pointer["publication"])


@central.on(DataZoneDataSourceRunSucceeded)
def run_succeeded(event: DataZoneDataSourceRunSucceeded, ctx: HandlerContext) -> EventDetail | None:
    return _run_ended(event.entity_id("dataSourceId"), ctx)


@central.on(DataZoneDataSourceRunFailed)
def run_failed(event: DataZoneDataSourceRunFailed, ctx: HandlerContext) -> EventDetail | None:
    return _run_ended(event.entity_id("dataSourceId"), ctx)


def _run_ended(source_id: str | None, ctx: HandlerContext) -> EventDetail | None:
    """Both run events end here: the run itself (read with the API) says how it went."""
    _require_datazone_account(ctx)
    reg = Registry(ctx)
    pointer = reg.get(f"DZSOURCE#{source_id}") if source_id else None
    if pointer is None:
        return None
    key = pointer["publication"]
    pub = reg.get(key)
    if pub is None or pub.get("state") != "RUNNING":
        return None  # duplicate, or a run meshkit did not start (a schedule someone added)
    return _run_done(ctx, reg, key, pub)


def _run_done(
    ctx: HandlerContext, reg: Registry, key: str, pub: dict[str, Any]
) -> EventDetail | None:
    """The run's outcome, read with the API; None while it still runs."""
    dz = _client(ctx)
    ddid = pub["datazone_domain_id"]
    run = dz.get_data_source_run(domainIdentifier=ddid, identifier=pub["run_id"])
    status = str(run.get("status"))
    if status in ("REQUESTED", "RUNNING"):
        return None  # an event for an earlier run; this one's own event follows
    stats = run.get("runStatisticsForAssets") or {}
    if status == "FAILED" or stats.get("failed"):
        error = run.get("errorMessage") or {}
        message = (
            f"{error.get('errorType', 'FAILED')}: {error.get('errorDetail', 'no detail')}"
            if error
            else f"{stats.get('failed')} of the product's assets failed to import"
        )
        return _failed(ctx, reg, key, pub, "run", f"run {pub['run_id']} {status}: {message}")
    assets: list[str] = []
    metadata: dict[str, Any] = pub.get("metadata") or {}
    applied = hashlib.sha256(json.dumps(metadata, sort_keys=True).encode()).hexdigest()[:16]
    kwargs: dict[str, Any] = {"domainIdentifier": ddid, "identifier": pub["run_id"]}
    while True:
        page = dz.list_data_source_run_activities(**kwargs)
        for activity in page.get("items", []):
            asset_id = activity.get("dataAssetId")
            if not asset_id:
                continue
            assets.append(str(asset_id))
            pointer_key = f"DZASSET#{ddid}#{asset_id}"
            pointer = reg.get(pointer_key) or {}
            if metadata and pointer.get("metadata") != applied:
                # The product's business metadata, as a new asset revision, listed at once.
                revision = dz.create_asset_revision(
                    domainIdentifier=ddid,
                    identifier=asset_id,
                    name=activity["technicalName"],
                    **metadata,
                )
                dz.create_listing_change_set(
                    domainIdentifier=ddid,
                    entityIdentifier=asset_id,
                    entityType="ASSET",
                    action="PUBLISH",
                    entityRevision=revision["revision"],
                )
            reg.put(
                {
                    "pk": pointer_key,
                    "sk": "META",
                    "domain": pub["domain"],
                    "product": pub["product"],
                    "table": activity.get("technicalName"),
                    "metadata": applied if metadata else None,
                }
            )
        if not page.get("nextToken"):
            break
        kwargs["nextToken"] = page["nextToken"]
    assets = sorted(set(assets))
    reg.update(
        key,
        {"state": "PUBLISHED", "asset_ids": assets, "published_at": iso(ctx.now()), **_LANDED},
    )
    return ProductPublished(
        domain=pub["domain"],
        product=pub["product"],
        datazone_domain_id=ddid,
        project_id=pub["project_id"],
        data_source_id=str(pub["data_source_id"]),
        run_id=str(pub["run_id"]),
        asset_ids=assets,
        added=int(stats.get("added", 0)),
        updated=int(stats.get("updated", 0)),
        unchanged=int(stats.get("unchanged", 0)),
        recipients=[pub["producer_account"]],
        correlation_id=pub["correlation_id"],
    )


# -- Reconcile: DataZone's events are best effort ------------------------------------------
@central.on(ScheduledEvent)
def reconcile(event: ScheduledEvent, ctx: HandlerContext) -> list[EventDetail]:
    """Take on the publications that waited longer than ``RECONCILE_AFTER`` for a DataZone
    event: the step's state is read once (one Get call per late publication, none for those on
    time) and the publication resumes as the lost event would have resumed it."""
    require_own_account(ctx, event)
    reg = Registry(ctx)
    out: list[EventDetail] = []
    late = list(reg.query_index(IN_FLIGHT, index="gsi2", before=iso(ctx.now())))
    for item in late:
        key = str(item["pk"])
        pub = reg.get(key)  # fresh: an earlier publication of this run may have moved it
        if pub is None or pub.get("state") not in WAITING_STATES:
            reg.update(key, _LANDED)
            continue
        try:
            found = _recover(ctx, reg, key, pub)
        except _StepFailed as failed:
            found = [_failed(ctx, reg, key, pub, failed.stage, failed.message)]
        out.extend(found)
    return out


def _recover(
    ctx: HandlerContext, reg: Registry, key: str, pub: dict[str, Any]
) -> list[EventDetail]:
    dz = _client(ctx)
    ddid, state = pub["datazone_domain_id"], pub["state"]
    if state == "WAITING_ENVIRONMENT":
        claim = reg.get(f"DZPROJECT#{ddid}#{pub['project_id']}") or {}
        env_id = claim.get("environment_id")
        if env_id and claim.get("environment_status") not in ("ACTIVE", "CREATE_FAILED"):
            status = str(dz.get_environment(domainIdentifier=ddid, identifier=env_id)["status"])
            if status == "ACTIVE" or status in _ENVIRONMENT_FAILED:
                _add_waiting(reg, f"DZPROJECT#{ddid}#{pub['project_id']}", key)
                return _environment_done(ctx, reg, env_id, failed=status != "ACTIVE")
            reg.update(key, _in_flight(ctx, key))
            return []
    elif state == "WAITING_DATA_SOURCE" and pub.get("data_source_id"):
        source = dz.get_data_source(domainIdentifier=ddid, identifier=pub["data_source_id"])
        status = str(source.get("status"))
        if status == "FAILED_CREATION":
            raise _StepFailed("data_source", f"data source {pub['data_source_id']} {status}")
        if status not in ("READY", "FAILED_UPDATE"):
            reg.update(key, _in_flight(ctx, key))
            return []
    elif state == "RUNNING":
        result = _run_done(ctx, reg, key, pub)
        if result is None:
            reg.update(key, _in_flight(ctx, key))
            return []
        return [result]
    # The step can be taken again from what the registry knows: the usual path resumes it.
    result = _advance(ctx, reg, key)
    return [] if result is None else [result]


_ENVIRONMENT_FAILED = ("CREATE_FAILED", "DELETED", "DELETE_FAILED", "VALIDATION_FAILED")


# -- Unpublishing --------------------------------------------------------------------------
@central.on(ProductDeprecated)
def deprecated(event: ProductDeprecated, ctx: HandlerContext) -> EventDetail | None:
    reg = Registry(ctx)
    product = reg.product(event.domain, event.product)
    if product is None:
        raise RejectEvent(
            f"account {ctx.sender_account} does not own product {event.domain}.{event.product}"
        )
    require_sender(ctx, event, owner=product["producer_account"])
    return _unpublish(ctx, reg, event.domain, event.product, f"deprecated: {event.reason}")


@central.on(DomainDeregistered)
def deregistered(event: DomainDeregistered, ctx: HandlerContext) -> list[EventDetail]:
    require_own_account(ctx, event)  # central's own event, matched on central's bus
    reg = Registry(ctx)
    return _unpublish_domain(ctx, reg, event.domain, "domain deregistered")


def _unpublish_domain(
    ctx: HandlerContext, reg: Registry, name: str, reason: str
) -> list[EventDetail]:
    out: list[EventDetail] = []
    for item in reg.query_index(f"DOMAINPRODUCTS#{name}"):
        result = _unpublish(ctx, reg, name, item["product"], reason)
        if result is not None:
            out.append(result)
    return out


def _unpublish(
    ctx: HandlerContext, reg: Registry, domain_name: str, product: str, reason: str
) -> EventDetail | None:
    key = f"DZPUB#{domain_name}#{product}"
    pub = reg.get(key)
    if pub is None or pub.get("state") == "UNPUBLISHED":
        return None
    dz = _client(ctx)
    assets = list(pub.get("asset_ids", []))
    for asset_id in assets:
        try:
            dz.create_listing_change_set(
                domainIdentifier=pub["datazone_domain_id"],
                entityIdentifier=asset_id,
                entityType="ASSET",
                action="UNPUBLISH",
            )
        except Exception as exc:
            if aws_error_code(exc) != "ResourceNotFoundException":
                raise
    if pub.get("data_source_id"):
        # No schedule and no further runs: a redeploy must not publish it again.
        dz.update_data_source(
            domainIdentifier=pub["datazone_domain_id"],
            identifier=pub["data_source_id"],
            enableSetting="DISABLED",
        )
    reg.update(
        key, {"state": "UNPUBLISHED", "fingerprint": None, "reason": reason[:256], **_LANDED}
    )
    return ProductUnpublished(
        domain=domain_name,
        product=product,
        datazone_domain_id=pub["datazone_domain_id"],
        asset_ids=assets,
        reason=reason[:256],
        recipients=[pub["producer_account"]],
        correlation_id=pub["correlation_id"],
    )


# -- Subscriptions: DataZone -> mesh -------------------------------------------------------
@central.on(DataZoneSubscriptionRequestCreated)
def subscription_requested(
    event: DataZoneSubscriptionRequestCreated, ctx: HandlerContext
) -> EventDetail | None:
    _require_datazone_account(ctx)
    settings = _settings(ctx)
    ddid = event.datazone_domain
    sub_id = event.entity_id("subscriptionRequestId")
    if ddid is None or ddid not in settings["domain_ids"] or not sub_id:
        return None  # another DataZone domain's business
    reg = Registry(ctx)
    if reg.get(f"DZSUB#{sub_id}") is not None:
        return None  # duplicate event
    dz = _client(ctx)
    request = dz.get_subscription_request_details(domainIdentifier=ddid, identifier=sub_id)
    if request.get("status") != "PENDING":
        return None
    refusal, mapped = _map_subscription(reg, ddid, request)
    if refusal:
        dz.reject_subscription_request(
            domainIdentifier=ddid, identifier=sub_id, decisionComment=refusal[:4096]
        )
        reg.put({"pk": f"DZSUB#{sub_id}", "sk": "META", "state": "REJECTED", "reason": refusal})
        return None
    consumer, pub, tables, consumer_item = mapped
    request_id = request_id_for(sub_id)
    try:
        reg.put(
            {
                "pk": f"DZSUB#{sub_id}",
                "sk": "META",
                "state": "PENDING",
                "request_id": request_id,
                "consumer_domain": consumer,
                "consumer_account": consumer_item["account_id"],
                "datazone_domain_id": ddid,
            },
            condition="attribute_not_exists(pk)",
        )
    except ConditionFailed:
        return None
    reg.put({"pk": f"DZREQ#{request_id}", "sk": "META", "subscription_request_id": sub_id})
    return SubscriptionRequestReceived(
        datazone_domain_id=ddid,
        subscription_request_id=sub_id,
        request_id=request_id,
        consumer_domain=consumer,
        producer_domain=pub["domain"],
        product=pub["product"],
        tables=tables,
        reason=str(request.get("requestReason") or "DataZone subscription")[:4000],
        recipients=[consumer_item["account_id"]],
        correlation_id=f"{SUBSCRIPTION_CORRELATION}{sub_id}",
    )


def _map_subscription(reg: Registry, ddid: str, request: dict[str, Any]) -> tuple[str | None, Any]:
    principals = request.get("subscribedPrincipals") or []
    project_id = (principals[0].get("project") or {}).get("id") if principals else None
    if not project_id:
        return "meshkit maps subscriptions by DataZone project; this one names none", None
    claim = reg.get(f"DZPROJECT#{ddid}#{project_id}")
    if claim is None:
        return f"project {project_id} is bound to no mesh domain", None
    consumer_item = reg.domain(claim["domain"])
    if consumer_item is None or consumer_item.get("status") != "ACTIVE":
        return f"project {project_id}'s domain {claim['domain']!r} is not active", None
    products: set[tuple[str, str]] = set()
    tables: set[str] = set()
    for listing in request.get("subscribedListings") or []:
        asset = (listing.get("item") or {}).get("assetListing") or {}
        pointer = reg.get(f"DZASSET#{ddid}#{asset.get('entityId')}") if asset else None
        if pointer is None:
            return f"listing {listing.get('id')} is not a meshkit product table", None
        products.add((pointer["domain"], pointer["product"]))
        if pointer.get("table"):
            tables.add(str(pointer["table"]))
    if len(products) != 1:
        return f"a subscription must name one product's listings, not {len(products)}", None
    ((producer, product),) = products
    if producer == claim["domain"]:
        return "a domain does not subscribe to its own product", None
    pub = reg.get(f"DZPUB#{producer}#{product}")
    if pub is None or pub.get("state") != "PUBLISHED":
        return f"product {producer}.{product} is not published", None
    item = reg.product(producer, product) or {"tables": []}
    names = {t["central_table"]: t["name"] for t in item["tables"]}
    mesh_tables = sorted(names.get(t, t) for t in tables)
    return None, (claim["domain"], pub, mesh_tables, consumer_item)


# -- The subscribing domain answers with an ordinary access request ------------------------
@domain.on(SubscriptionRequestReceived)
def subscription_received(event: SubscriptionRequestReceived, ctx: HandlerContext) -> EventDetail:
    require_central(ctx, event)
    if event.consumer_domain != ctx.config.domain:
        raise RejectEvent(
            f"subscription for domain {event.consumer_domain!r} delivered to {ctx.config.domain!r}",
            kind="validation",
        )
    principals = [str(p) for p in ctx.config.setting("datazone_principals", [])]
    if not principals:
        raise RejectEvent(
            "this domain names no datazone_principals to receive DataZone subscriptions",
            kind="state",
        )
    return AccessRequested(
        request_id=event.request_id,
        consumer_domain=event.consumer_domain,
        producer_domain=event.producer_domain,
        product=event.product,
        tables=event.tables,
        principals=principals,
        purpose=f"DataZone subscription {event.subscription_request_id}: {event.reason}"[:256],
        **event.follow_up(),
    )


# -- Subscriptions: mesh -> DataZone -------------------------------------------------------
@central.on(EventRejected)
def rejected(event: EventRejected, ctx: HandlerContext) -> None:
    """A subscription flow refused on the way (by the subscribing domain, or by central's
    access rules): the DataZone subscription request is rejected with the mesh's reason."""
    if not event.correlation_id.startswith(SUBSCRIPTION_CORRELATION):
        return
    if event.event_detail_type not in (
        SubscriptionRequestReceived.DETAIL_TYPE,
        AccessRequested.DETAIL_TYPE,
    ):
        return
    sub_id = event.correlation_id.removeprefix(SUBSCRIPTION_CORRELATION)
    reg = Registry(ctx)
    sub = reg.get(f"DZSUB#{sub_id}")
    if sub is None or sub.get("state") != "PENDING":
        return
    if ctx.sender_account not in (ctx.account_id, sub["consumer_account"]):
        ctx.logger.warning(
            "ignored a rejection of subscription %s sent by account %s", sub_id, ctx.sender_account
        )
        return
    _decided(ctx, sub["request_id"], accept=False, comment=f"refused by the mesh: {event.reason}")


def _subscription_of(reg: Registry, request_id: str) -> tuple[str, dict[str, Any]] | None:
    pointer = reg.get(f"DZREQ#{request_id}")
    if pointer is None:
        return None
    sub_id = str(pointer["subscription_request_id"])
    sub = reg.get(f"DZSUB#{sub_id}")
    return (sub_id, sub) if sub else None


@central.on(AccessGranted)
def granted(event: AccessGranted, ctx: HandlerContext) -> None:
    require_own_account(ctx, event)
    _decided(ctx, event.request_id, accept=True, comment="granted by the mesh")


@central.on(AccessDenied)
def denied(event: AccessDenied, ctx: HandlerContext) -> None:
    require_own_account(ctx, event)
    _decided(ctx, event.request_id, accept=False, comment=f"denied by the mesh: {event.reason}")


def _decided(ctx: HandlerContext, request_id: str, *, accept: bool, comment: str) -> None:
    reg = Registry(ctx)
    found = _subscription_of(reg, request_id)
    if found is None:
        return  # not a DataZone subscription
    sub_id, sub = found
    if sub.get("state") != "PENDING":
        return
    dz = _client(ctx)
    ddid = sub["datazone_domain_id"]
    current = dz.get_subscription_request_details(domainIdentifier=ddid, identifier=sub_id)
    if current.get("status") == "PENDING":
        call = dz.accept_subscription_request if accept else dz.reject_subscription_request
        call(domainIdentifier=ddid, identifier=sub_id, decisionComment=comment[:4096])
    reg.update(f"DZSUB#{sub_id}", {"state": "ACCEPTED" if accept else "REJECTED"})


@central.on(AccessLinked)
def linked(event: AccessLinked, ctx: HandlerContext) -> None:
    """The consumer linked the mesh's grant: DataZone's subscription grant is fulfilled."""
    reg = Registry(ctx)
    found = _subscription_of(reg, event.request_id)
    if found is None:
        return
    sub_id, sub = found
    require_sender(ctx, event, consumer=sub["consumer_account"])
    if sub.get("state") == "PENDING":
        # The link overtook the grant's own event: a link means the mesh granted.
        _decided(ctx, event.request_id, accept=True, comment="granted by the mesh")
        sub = reg.get(f"DZSUB#{sub_id}") or sub
    if sub.get("state") != "ACCEPTED":
        return
    _grant_status(ctx, sub_id, sub, {"GRANT_PENDING", "GRANT_IN_PROGRESS"}, "GRANTED")


def _grant_status(
    ctx: HandlerContext,
    sub_id: str,
    sub: dict[str, Any],
    when: set[str],
    status: str,
    *,
    failure: str | None = None,
) -> None:
    """Set ``status`` on the subscription's grant assets that are in one of ``when``."""
    extra = {"failureCause": {"message": failure[:2048]}} if failure else {}
    dz = _client(ctx)
    ddid = sub["datazone_domain_id"]
    for subscription in dz.list_subscriptions(
        domainIdentifier=ddid, subscriptionRequestIdentifier=sub_id
    ).get("items", []):
        grants = dz.list_subscription_grants(
            domainIdentifier=ddid, subscriptionId=subscription["id"]
        ).get("items", [])
        for grant in grants:
            for asset in grant.get("assets", []):
                if asset.get("status") in when:
                    dz.update_subscription_grant_status(
                        domainIdentifier=ddid,
                        identifier=grant["id"],
                        assetIdentifier=asset["assetId"],
                        status=status,
                        **extra,
                    )


@central.on(AccessRevoked)
def revoked(event: AccessRevoked, ctx: HandlerContext) -> None:
    require_sender(ctx, event)  # central's own revocation (meshkit.trust: this group)
    _end(ctx, event.request_id)


@central.on(AccessExpired)
def expired(event: AccessExpired, ctx: HandlerContext) -> None:
    require_own_account(ctx, event)
    _end(ctx, event.request_id)


@central.on(AccessLinkFailed)
def link_failed(event: AccessLinkFailed, ctx: HandlerContext) -> None:
    """Central ended the request ``LINK_FAILED`` (the consumer refused the grant): DataZone's
    grant is reported failed with the consumer's reason and the subscription revoked; a
    subscription still pending (the grant's own event not seen yet) is rejected instead."""
    if not event.recipients:
        return  # the consumer's refusal to central; central's answer (recipients set) counts
    if ctx.sender_account != ctx.config.central_account:
        # The table lets consumers send AccessLinkFailed to central; its answer is central's own.
        raise RejectEvent(
            f"account {ctx.sender_account} may not answer a refused grant (AccessLinkFailed "
            f"with recipients): only the central account {ctx.config.central_account} may",
            kind="authorisation",
        )
    reg = Registry(ctx)
    found = _subscription_of(reg, event.request_id)
    if found is None:
        return
    _sub_id, sub = found
    if sub.get("state") == "PENDING":
        _decided(ctx, event.request_id, accept=False, comment=event.reason)
        return
    _end(ctx, event.request_id, failure=event.reason)


def _end(ctx: HandlerContext, request_id: str, *, failure: str | None = None) -> None:
    reg = Registry(ctx)
    found = _subscription_of(reg, request_id)
    if found is None:
        return
    sub_id, sub = found
    if sub.get("state") != "ACCEPTED":
        return
    if failure is not None:
        # Nothing was granted for good: the grant failed, with the consumer's reason.
        _grant_status(
            ctx,
            sub_id,
            sub,
            {"GRANT_PENDING", "GRANT_IN_PROGRESS"},
            "GRANT_FAILED",
            failure=failure,
        )
    dz = _client(ctx)
    ddid = sub["datazone_domain_id"]
    for item in dz.list_subscriptions(
        domainIdentifier=ddid, subscriptionRequestIdentifier=sub_id
    ).get("items", []):
        if item.get("status") == "APPROVED":
            dz.revoke_subscription(domainIdentifier=ddid, identifier=item["id"])
    # The mesh removed the grants and links already: report the revocation done.
    _grant_status(ctx, sub_id, sub, {"REVOKE_PENDING", "REVOKE_IN_PROGRESS"}, "REVOKED")
    reg.update(
        f"DZSUB#{sub_id}",
        {"state": "LINK_FAILED" if failure is not None else "REVOKED"},
    )

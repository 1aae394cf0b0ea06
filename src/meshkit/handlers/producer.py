"""Producer-side handlers (in each domain account): links, crawler, schema, approvals inbox.

A product's crawler is driven by its own ``Glue Crawler State Change`` event: the handler
that starts it returns at once, and the crawler's final state (on the default bus) triggers
the next step. No polling, no sleeps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from meshkit.events.access import ApprovalRequested
from meshkit.events.aws import GlueCrawlerStateChange
from meshkit.events.domains import DomainDeregistered, DomainRegistered
from meshkit.events.products import (
    Column,
    ProductCrawlFailed,
    ProductLinked,
    ProductRegistered,
    ProductSchemaUpdated,
    TableSchema,
)
from meshkit.handlers._common import (
    aws_error_code,
    iso,
    link_database_name,
    require_central,
    require_own_account,
)
from meshkit.handlers.registry import Registry
from meshkit.handlers.sharing import accept_invitations, ensure_database_link
from meshkit.runtime.errors import RejectEvent, RetryLater
from meshkit.runtime.router import EventRouter
from meshkit.topology import crawler_name

if TYPE_CHECKING:
    from meshkit.events.base import EventDetail
    from meshkit.runtime.context import HandlerContext

__all__ = ["router"]

router = EventRouter("domain.producer")


def _mine(ctx: HandlerContext, domain: str) -> bool:
    """Several domains may share an account: act only on events for this deployment's."""
    return ctx.config.domain is None or ctx.config.domain == domain


@router.on(DomainRegistered, DomainDeregistered)
def domain_status(event: DomainRegistered | DomainDeregistered, ctx: HandlerContext) -> None:
    """Record central's answer; fields are merged, so the two may arrive in either order."""
    require_central(ctx, event)
    if not _mine(ctx, event.domain):
        return
    changes: dict[str, Any]
    if isinstance(event, DomainRegistered):
        changes = {
            "central_database": event.central_database,
            "sharing_mode": event.sharing_mode,
            "registered_at": iso(ctx.now()),
            # The request this answers: the registration custom resource waits for its own
            # (meshkit.runtime.registration).
            "registration_correlation_id": event.correlation_id,
        }
    else:
        changes = {"deregistered_at": iso(ctx.now()), "reason": event.reason}
    Registry(ctx).update("DOMAIN", changes, sk=event.domain)


@router.on(ProductRegistered)
def link_and_crawl(event: ProductRegistered, ctx: HandlerContext) -> EventDetail | None:
    require_central(ctx, event)
    if not _mine(ctx, event.domain):
        return None
    if event.producer_account != ctx.config.account_id:
        raise RejectEvent(
            f"ProductRegistered for account {event.producer_account} "
            f"reached {ctx.config.account_id}",
            kind="validation",
        )
    accept_invitations(ctx)
    link_db = link_database_name(ctx.config.mesh_name, event.central_database)
    ensure_database_link(ctx, link_db, event.central_account, event.central_database)
    name = crawler_name(ctx.config.mesh_name, event.domain, event.product)
    tables = [t.central_table for t in event.tables]
    role = ctx.config.setting("crawler_role_arn", None)
    if not role:
        raise RuntimeError("setting crawler_role_arn is missing: the DataDomain construct sets it")
    spec: dict[str, Any] = {
        "Name": name,
        "Role": role,
        "Targets": {"CatalogTargets": [{"DatabaseName": link_db, "Tables": tables}]},
        "SchemaChangePolicy": {"UpdateBehavior": "UPDATE_IN_DATABASE", "DeleteBehavior": "LOG"},
        "LakeFormationConfiguration": {
            "UseLakeFormationCredentials": True,
            "AccountId": event.central_account,
        },
        "Description": f"meshkit crawler of {event.domain}.{event.product}",
    }
    glue = ctx.client("glue")
    # Create, or bring an existing crawler to the current spec: no read first, so nothing
    # here looks like polling a crawler's state.
    created = True
    try:
        glue.create_crawler(**spec)
    except Exception as exc:
        if aws_error_code(exc) != "AlreadyExistsException":
            raise
        created = False
        try:
            glue.update_crawler(**spec)
        except Exception as update_exc:
            if aws_error_code(update_exc) == "CrawlerRunningException":
                # A crawl is under way: try again once it is over (the queue redelivers).
                raise RetryLater(
                    f"crawler {name} is running; its spec is updated after"
                ) from update_exc
            raise
    Registry(ctx).put(
        {
            "pk": "PRODUCT",
            "sk": event.product,
            "crawler_name": name,
            "central_account": event.central_account,
            "central_database": event.central_database,
            "tables": tables,
            "link_database": link_db,
            "correlation_id": event.correlation_id,
        }
    )
    started = False
    if created or event.changed_tables:
        try:
            glue.start_crawler(Name=name)
            started = True
        except Exception as exc:
            # Already running: its completion event reports the schema as it then is.
            if aws_error_code(exc) != "CrawlerRunningException":
                raise
    return ProductLinked(
        domain=event.domain,
        product=event.product,
        link_database=link_db,
        crawler_name=name,
        crawl_started=started,
        **event.follow_up(),
    )


@router.on(GlueCrawlerStateChange)
def crawler_finished(event: GlueCrawlerStateChange, ctx: HandlerContext) -> EventDetail | None:
    require_own_account(ctx, event)
    domain = ctx.config.domain or ""
    prefix = crawler_name(ctx.config.mesh_name, domain, "")
    if not event.crawler_name.startswith(prefix):
        return None  # another domain's crawler in the same account
    product = event.crawler_name[len(prefix) :]
    state = Registry(ctx).get("PRODUCT", product)
    if state is None:
        raise RejectEvent(
            f"crawler {event.crawler_name} belongs to no registered product", kind="state"
        )
    correlation = {"correlation_id": state["correlation_id"]}
    if event.state == "Failed":
        return ProductCrawlFailed(
            domain=domain,
            product=product,
            crawler_name=event.crawler_name,
            error_message=(event.error_message or event.message or "crawler failed")[:4000],
            **correlation,
        )
    if event.state != "Succeeded":
        return None
    glue = ctx.client("glue")
    schemas = []
    for table in state["tables"]:
        t = glue.get_table(
            CatalogId=state["central_account"], DatabaseName=state["central_database"], Name=table
        )["Table"]
        sd = t.get("StorageDescriptor", {})
        schemas.append(
            TableSchema(
                name=table,
                columns=[Column(name=c["Name"], type=c["Type"]) for c in sd.get("Columns", [])],
                partition_keys=[
                    Column(name=c["Name"], type=c["Type"]) for c in t.get("PartitionKeys", [])
                ],
                location=sd["Location"],
            )
        )
    return ProductSchemaUpdated(
        domain=domain,
        product=product,
        crawler_name=event.crawler_name,
        tables=schemas,
        tables_created=int(event.tables_created or 0),
        tables_updated=int(event.tables_updated or 0),
        partitions_created=int(event.partitions_created or 0),
        **correlation,
    )


@router.on(ApprovalRequested)
def approval_inbox(event: ApprovalRequested, ctx: HandlerContext) -> None:
    """Put the request in the producer's inbox; a data owner answers with AccessDecided."""
    require_central(ctx, event)
    if not _mine(ctx, event.producer_domain):
        return
    Registry(ctx).put(
        {
            "pk": "APPROVAL",
            "sk": event.request_id,
            "request": event.model_dump(mode="json"),
            "received_at": iso(ctx.now()),
        }
    )
    topic = ctx.config.setting("approval_topic_arn", None)
    if topic:
        ctx.client("sns").publish(
            TopicArn=topic,
            Subject=f"meshkit: access request {event.request_id} needs a decision"[:100],
            Message=event.model_dump_json(indent=2),
        )

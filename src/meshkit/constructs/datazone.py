"""DataZone props: central's DataZone settings and a domain's publication settings.

``CentralGovernance(datazone=DataZoneSettings(...))`` deploys the ``central.publication`` group
(environments, data sources and runs, listings, subscription write-back) with DataZone actions
scoped to the named DataZone domains. ``DataDomain(datazone=DataZonePublishing(...))`` deploys
``domain.publication`` (DataZone subscriptions become the domain's own access requests) and
sends ``DomainPublicationConfigured`` when the stack deploys (``enabled=False`` on delete).

When DataZone lives in another account than central's (``DataZoneSettings(account=...)``),
``DataZoneAccountAccess`` in that account gives central's publication handler a role to assume
(trusting that one role of central's account only) and forwards DataZone's events of the named
domains to central's default bus.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from pydantic import ValidationError

from constructs import Construct
from meshkit.constructs import _nag
from meshkit.constructs._handlers import events_principal, queue_alarm
from meshkit.events.aws import DATAZONE_EVENTS
from meshkit.events.publication import DomainPublicationConfigured, ProductPublicationOverride
from meshkit.handlers.publication import DATAZONE_ACTIONS

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "DATAZONE_ACTIONS",
    "DataZoneAccountAccess",
    "DataZonePublishing",
    "DataZoneSettings",
    "datazone_access_role_name",
    "datazone_statements",
    "publication_role_name",
]

_DOMAIN_ID = re.compile(r"\Adzd[-_][a-zA-Z0-9_-]{1,36}\Z")
_ID = re.compile(r"\A[a-zA-Z0-9_-]{1,36}\Z")
_ACCOUNT = re.compile(r"\A[0-9]{12}\Z", re.ASCII)


def publication_role_name(mesh_name: str) -> str:
    """The role of central's ``central.publication`` handler when DataZone is in another
    account: a fixed name, so the DataZone account's role can trust exactly this role."""
    return f"meshkit-{mesh_name}-publication"


def datazone_access_role_name(mesh_name: str) -> str:
    """The role ``DataZoneAccountAccess`` creates in the DataZone account."""
    return f"meshkit-{mesh_name}-datazone-access"


@dataclass(frozen=True)
class DataZoneSettings:
    """Central's side: the DataZone domains it publishes to, in the governance account.

    ``environment_profile_id``: the data-lake environment profile central's per-project
    environments are created from (a DataZone administrator sets up the domain, enables the
    DefaultDataLake blueprint for this account and creates the profile; docs/datazone.md).

    ``account``: the account holding the DataZone domains when it is not central's (deploy
    ``DataZoneAccountAccess`` there); central's account associated to those domains still
    holds the environments, since the product tables are in its catalog.
    """

    domain_ids: Sequence[str]
    environment_profile_id: str
    account: str | None = None

    def __post_init__(self) -> None:
        if not self.domain_ids:
            raise ValueError("DataZoneSettings.domain_ids: name at least one DataZone domain")
        bad = [d for d in self.domain_ids if not _DOMAIN_ID.match(d)]
        if bad:
            raise ValueError(f"DataZoneSettings.domain_ids {bad} are not 'dzd_...' domain ids")
        if not _ID.match(self.environment_profile_id):
            raise ValueError(
                f"DataZoneSettings.environment_profile_id={self.environment_profile_id!r} is not "
                "a DataZone id (1-36 letters, digits, '_' or '-')"
            )
        if self.account is not None and not _ACCOUNT.match(self.account):
            raise ValueError(
                f"DataZoneSettings.account={self.account!r} is not a 12-digit account id"
            )

    def handler_settings(self) -> dict[str, Any]:
        """What ``central.publication`` reads as ``settings["datazone"]``."""
        settings: dict[str, Any] = {
            "domain_ids": list(self.domain_ids),
            "environment_profile_id": self.environment_profile_id,
        }
        if self.account is not None:
            settings["account"] = self.account
        return settings

    def remote(self, central_account: str) -> bool:
        """True when DataZone is in another account than ``central_account``."""
        return self.account is not None and self.account != central_account


@dataclass(frozen=True)
class DataZonePublishing:
    """A domain's side: the project it publishes to and subscribes as, and what it publishes.

    ``subscriber_principals``: the role ARNs (in the domain's account) that DataZone
    subscriptions of the project are granted to; by default the first consumer principal.
    """

    datazone_domain_id: str
    project_id: str | None = None
    project_name: str | None = None
    include_tables: Sequence[str] = ("*",)
    exclude_tables: Sequence[str] = ()
    glossary_terms: Sequence[str] = ()
    products: Sequence[ProductPublicationOverride] = ()
    subscriber_principals: Sequence[str] = ()
    enabled: bool = True

    def event(self, domain: str, *, enabled: bool | None = None) -> DomainPublicationConfigured:
        """The event the stack sends; invalid settings fail the synth with the field named."""
        try:
            return DomainPublicationConfigured(
                domain=domain,
                enabled=self.enabled if enabled is None else enabled,
                datazone_domain_id=self.datazone_domain_id,
                project_id=self.project_id,
                project_name=self.project_name,
                include_tables=list(self.include_tables),
                exclude_tables=list(self.exclude_tables),
                glossary_terms=list(self.glossary_terms),
                products=list(self.products),
            )
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(x) for x in e['loc']) or 'settings'}: {e['msg']}"
                for e in exc.errors(include_url=False)
            )
            raise ValueError(f"DataZonePublishing for domain {domain!r}: {problems}") from None


def datazone_statements(
    scope: Construct,
    domain_ids: Sequence[str],
    *,
    account: str | None = None,
    mesh_name: str | None = None,
) -> list[iam.PolicyStatement]:
    """DataZone actions on the named DataZone domains only (the resource type ``domain``), in
    this stack's account; or, when DataZone is in ``account``, only the right to assume the
    role ``DataZoneAccountAccess`` of ``mesh_name`` created there (it holds the actions)."""
    stack = Stack.of(scope)
    if account is not None and account != stack.account:
        if mesh_name is None:
            raise ValueError("datazone_statements: a DataZone account needs the mesh name")
        mesh = mesh_name
        return [
            iam.PolicyStatement(
                sid="DataZoneAccountRole",
                actions=["sts:AssumeRole"],
                resources=[
                    f"arn:{stack.partition}:iam::{account}:role/{datazone_access_role_name(mesh)}"
                ],
            )
        ]
    return [
        iam.PolicyStatement(
            sid="DataZonePublication",
            actions=list(DATAZONE_ACTIONS),
            resources=[
                f"arn:{stack.partition}:datazone:{stack.region}:{stack.account}:domain/{d}"
                for d in domain_ids
            ],
        )
    ]


class DataZoneAccountAccess(Construct):
    """In the account holding DataZone (when it is not central's): what central's
    ``central.publication`` handler needs there.

    * A role (``meshkit-<mesh>-datazone-access``) with exactly the DataZone actions the handlers
      call, on the named DataZone domains; its trust names central's account, limited by
      ``aws:PrincipalArn`` to central's publication handler role (a fixed name,
      ``meshkit-<mesh>-publication``), so no other principal of central's account can use it.
    * A rule on this account's default bus forwarding DataZone's events of those domains to
      central's default bus (same region), with a dead-letter queue for what EventBridge cannot
      deliver; central's default bus accepts ``aws.datazone`` events from this account only
      (``CentralGovernance(datazone=DataZoneSettings(account=...))`` adds that bus policy).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        mesh_name: str,
        central_account: str,
        domain_ids: Sequence[str],
    ) -> None:
        super().__init__(scope, id)
        if not _ACCOUNT.match(central_account):
            raise ValueError(f"central_account={central_account!r} is not a 12-digit account id")
        DataZoneSettings(domain_ids=domain_ids, environment_profile_id="unused")  # validates ids
        stack = Stack.of(self)
        self.mesh_name = mesh_name
        publisher = f"arn:{stack.partition}:iam::{central_account}:role/" + publication_role_name(
            mesh_name
        )
        self.role = iam.Role(
            self,
            "Role",
            role_name=datazone_access_role_name(mesh_name),
            description=f"meshkit {mesh_name}: central's publication handler acting in DataZone",
            assumed_by=iam.AccountPrincipal(central_account).with_conditions(
                {"ArnEquals": {"aws:PrincipalArn": publisher}}
            ),
            max_session_duration=Duration.hours(1),
        )
        for statement in datazone_statements(self, domain_ids):
            self.role.add_to_policy(statement)
        self.dead_letter_queue = sqs.Queue(
            self,
            "ForwardDeadLetters",
            # EventBridge cannot use the AWS managed SQS key; SSE-SQS needs no key policy.
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        _nag.acknowledge(
            self.dead_letter_queue,
            "AwsSolutions-SQS3",
            "This queue is the dead-letter queue of the forwarding rule's target.",
        )
        self.dead_letter_alarm = queue_alarm(
            self,
            "ForwardDeadLetterAlarm",
            self.dead_letter_queue,
            "DataZone events could not be forwarded to central's bus.",
        )
        central_bus = events.EventBus.from_event_bus_arn(
            self,
            "CentralDefaultBus",
            f"arn:{stack.partition}:events:{stack.region}:{central_account}:event-bus/default",
        )
        forward_role = iam.Role(
            self,
            "ForwardRole",
            assumed_by=events_principal(self),
            description=f"meshkit {mesh_name}: EventBridge forwarding DataZone events",
        )
        self.rule = events.Rule(
            self,
            "ForwardDataZoneEvents",
            description=f"meshkit {mesh_name}: DataZone's events for central's publication",
            event_pattern=events.EventPattern(
                source=sorted({m.SOURCE for m in DATAZONE_EVENTS}),
                detail_type=[m.DETAIL_TYPE for m in DATAZONE_EVENTS],
                detail={"metadata": {"domain": list(domain_ids)}},
            ),
            targets=[
                targets.EventBus(
                    central_bus, role=forward_role, dead_letter_queue=self.dead_letter_queue
                )
            ],
        )

"""DataZone props: central's DataZone settings and a domain's publication settings.

``CentralGovernance(datazone=DataZoneSettings(...))`` deploys the ``central.publication`` group
(environments, data sources and runs, listings, subscription write-back) with DataZone actions
scoped to the named DataZone domains. ``DataDomain(datazone=DataZonePublishing(...))`` deploys
``domain.publication`` (DataZone subscriptions become the domain's own access requests) and
sends ``DomainPublicationConfigured`` when the stack deploys (``enabled=False`` on delete).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from meshkit.events.publication import DomainPublicationConfigured, ProductPublicationOverride
from meshkit.handlers.publication import DATAZONE_ACTIONS

if TYPE_CHECKING:
    from collections.abc import Sequence

    from aws_cdk import aws_iam as iam

    from constructs import Construct

__all__ = ["DATAZONE_ACTIONS", "DataZonePublishing", "DataZoneSettings", "datazone_statements"]

_DOMAIN_ID = re.compile(r"\Adzd[-_][a-zA-Z0-9_-]{1,36}\Z")
_ID = re.compile(r"\A[a-zA-Z0-9_-]{1,36}\Z")


@dataclass(frozen=True)
class DataZoneSettings:
    """Central's side: the DataZone domains it publishes to, in the governance account.

    ``environment_profile_id``: the data-lake environment profile central's per-project
    environments are created from (a DataZone administrator sets up the domain, enables the
    DefaultDataLake blueprint for this account and creates the profile; docs/datazone.md).
    """

    domain_ids: Sequence[str]
    environment_profile_id: str

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

    def handler_settings(self) -> dict[str, Any]:
        """What ``central.publication`` reads as ``settings["datazone"]``."""
        return {
            "domain_ids": list(self.domain_ids),
            "environment_profile_id": self.environment_profile_id,
        }


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


def datazone_statements(scope: Construct, domain_ids: Sequence[str]) -> list[iam.PolicyStatement]:
    """DataZone actions on the named DataZone domains only (the resource type ``domain``)."""
    from aws_cdk import Stack
    from aws_cdk import aws_iam as iam

    stack = Stack.of(scope)
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

"""What a handler receives beside its typed event: who sent it, clients, config, logger, clock."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable

    from meshkit.events.envelope import EventEnvelope
    from meshkit.runtime.config import MeshConfig

__all__ = ["BotoClientFactory", "ClientFactory", "HandlerContext", "partition_of", "utc_now"]


def utc_now() -> datetime:
    return datetime.now(UTC)


def partition_of(region: str) -> str:
    """The ARN partition of a region (``cn-north-1`` is in ``aws-cn``)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    if region.startswith("us-iso-"):
        return "aws-iso"
    if region.startswith("us-isob-"):
        return "aws-iso-b"
    return "aws"


class ClientFactory(Protocol):
    """Creates boto3 clients for this account, or for another one through an assumed role."""

    def client(self, service: str, account: str | None = None) -> Any: ...


class BotoClientFactory:
    """Lambda's factory: the function's own credentials; other accounts through STS.

    Clients are cached per (service, account), so a warm Lambda reuses them.
    """

    def __init__(
        self,
        *,
        region: str,
        account_id: str,
        role_name: str | None = None,
        session: Any = None,
    ) -> None:
        self._region = region
        self._account_id = account_id
        self._role_name = role_name
        self._session = session
        self._clients: dict[tuple[str, str], Any] = {}
        self._sessions: dict[str, Any] = {}

    def _session_for(self, account: str) -> Any:
        import boto3

        if self._session is None:
            self._session = boto3.session.Session(region_name=self._region)
        if account == self._account_id:
            return self._session
        if account not in self._sessions:
            if not self._role_name:
                raise PermissionError(
                    f"no cross-account role configured to act in account {account}; "
                    "set MESHKIT_CROSS_ACCOUNT_ROLE"
                )
            sts = self._session.client("sts")
            creds = sts.assume_role(
                RoleArn=f"arn:{partition_of(self._region)}:iam::{account}:role/{self._role_name}",
                RoleSessionName="meshkit",
            )["Credentials"]
            self._sessions[account] = boto3.session.Session(
                aws_access_key_id=creds["AccessKeyId"],
                aws_secret_access_key=creds["SecretAccessKey"],
                aws_session_token=creds["SessionToken"],
                region_name=self._region,
            )
        return self._sessions[account]

    def client(self, service: str, account: str | None = None) -> Any:
        account = account or self._account_id
        key = (service, account)
        if key not in self._clients:
            self._clients[key] = self._session_for(account).client(service)
        return self._clients[key]


class _CorrelationAdapter(logging.LoggerAdapter):  # type: ignore[type-arg]
    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        extra = dict(self.extra or {})
        extra.update(kwargs.get("extra") or {})
        kwargs["extra"] = extra
        return f"[{extra.get('correlation_id', '-')}] {msg}", kwargs


@dataclass
class HandlerContext:
    """Per-event context handed to a handler.

    ``sender_account`` is the envelope's ``account``: the only sender identity a handler may
    trust (EventBridge sets it; a detail field is just a claim).
    """

    config: MeshConfig
    envelope: EventEnvelope
    clients: ClientFactory
    handler_name: str = ""
    clock: Callable[[], datetime] = utc_now
    logger: logging.LoggerAdapter = field(init=False)  # type: ignore[type-arg]

    def __post_init__(self) -> None:
        correlation_id = self.envelope.detail.get("correlation_id", "-")
        self.logger = _CorrelationAdapter(
            logging.getLogger(f"meshkit.{self.handler_name or 'handler'}"),
            {"correlation_id": correlation_id, "event_id": self.envelope.id},
        )

    @property
    def sender_account(self) -> str:
        return self.envelope.account

    @property
    def account_id(self) -> str:
        return self.config.account_id

    def client(self, service: str, account: str | None = None) -> Any:
        """A boto3 client for this account (default) or, through a role, another one."""
        return self.clients.client(service, account)

    def now(self) -> datetime:
        return self.clock()

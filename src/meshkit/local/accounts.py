"""Per-account boto3 sessions on moto, and the ClientFactory handlers use in each account.

Each simulated account gets its own session from ``sts.assume_role`` (moto maps the issued keys
to the account), never ``MOTO_ACCOUNT_ID``, which is process-global and overrides credentials.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

__all__ = [
    "Account",
    "AccountClients",
    "acting_group",
    "botocore_session",
    "group_calls",
    "internal_calls",
    "is_internal_call",
]

#: The mesh's own calls (provisioning, delivery, inspection) are not the handlers': accounting
#: and fault injection skip them.
_internal = threading.local()


def is_internal_call() -> bool:
    return bool(getattr(_internal, "depth", 0))


@contextmanager
def internal_calls() -> Iterator[None]:
    """Mark calls made inside the block as the mesh's own machinery (Lambda, SQS pollers)."""
    _internal.depth = getattr(_internal, "depth", 0) + 1
    try:
        yield
    finally:
        _internal.depth -= 1


def acting_group() -> tuple[str, str] | None:
    """``(group, account)`` of the handler group whose invocation is running on this thread
    (None outside a delivery): the role a call would be signed with on AWS."""
    scope: tuple[str, str] | None = getattr(_internal, "group", None)
    return scope


@contextmanager
def group_calls(group: str, account: str) -> Iterator[None]:
    """Mark calls made inside the block as handler group ``group``'s, in ``account``."""
    previous = getattr(_internal, "group", None)
    _internal.group = (group, account)
    try:
        yield
    finally:
        _internal.group = previous


# Fixed, bounded retries: the same as botocore's ``standard`` mode a Lambda would use.
_CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    # DynamoDB Streams and account-based endpoints are not routed by moto (research §8).
    account_id_endpoint_mode="disabled",
)


_LOADER: botocore.loaders.Loader | None = None


def botocore_session() -> botocore.session.Session:
    """A botocore session sharing one data loader: service models are parsed once per process,
    not once per simulated account (that parsing dominated a mesh's start-up)."""
    global _LOADER
    if _LOADER is None:
        _LOADER = botocore.loaders.create_loader()
    session = botocore.session.Session()
    session.register_component("data_loader", _LOADER)
    return session


def _base_session(region: str) -> boto3.session.Session:
    # Any static keys work against moto; they only serve to call STS.
    return boto3.session.Session(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name=region,
        botocore_session=botocore_session(),
    )


class Account:
    """One simulated AWS account: a session acting as it, and cached clients."""

    def __init__(
        self,
        account_id: str,
        *,
        region: str,
        mesh_name: str,
        hooks: Sequence[Callable[[str, boto3.session.Session], None]] = (),
    ) -> None:
        self.account_id = account_id
        self.region = region
        sts = _base_session(region).client("sts", config=_CLIENT_CONFIG)
        creds = sts.assume_role(
            RoleArn=f"arn:aws:iam::{account_id}:role/{mesh_name}-local-admin",
            RoleSessionName=f"{mesh_name}-local",
        )["Credentials"]
        self.session = boto3.session.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            region_name=region,
            botocore_session=botocore_session(),
        )
        # Hooks go on the session before any client exists: a client copies the session's
        # event handlers when it is created.
        for hook in hooks:
            hook(account_id, self.session)
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def client(self, service: str) -> Any:
        with self._lock:
            client = self._clients.get(service)
            if client is None:
                client = self.session.client(service, config=_CLIENT_CONFIG)
                self._clients[service] = client
            return client

    def __repr__(self) -> str:
        return f"Account({self.account_id})"


class AccountClients:
    """meshkit's ClientFactory for one simulated account.

    ``client(service, account=other)`` acts in another simulated account, as Lambda's factory
    would after assuming the cross-account role.
    """

    def __init__(self, account: Account, resolve: Callable[[str], Account]) -> None:
        self._account = account
        self._resolve = resolve

    @property
    def account_id(self) -> str:
        return self._account.account_id

    def client(self, service: str, account: str | None = None) -> Any:
        if account is None or account == self._account.account_id:
            return self._account.client(service)
        return self._resolve(account).client(service)

"""A CloudFormation custom resource adding a stack's principals to the Lake Formation admins.

``AWS::LakeFormation::DataLakeSettings`` replaces the account's whole data-lake settings: two
stacks of one account would overwrite each other's admin list and reset ``Parameters`` (the
cross-account version) and the default permissions. This resource instead reads the settings
(``GetDataLakeSettings``), adds its principals and writes everything else back unchanged
(``PutDataLakeSettings``); on update it removes only the principals it no longer lists, on delete
only its own. Lake Formation has no conditional write, so after writing it reads the settings
back and merges again if a concurrent writer (another stack) dropped its change.

It runs with the standard library and boto3 only (no layer); ``handler`` answers CloudFormation
through the pre-signed response URL and never raises, so a failure fails the stack operation
instead of leaving it waiting.
"""

from __future__ import annotations

import json
import time
import urllib.request
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

__all__ = ["apply", "handler", "merged"]

#: Writes attempted before giving up on a concurrent writer that keeps dropping our change.
ATTEMPTS = 5


def _admins(settings: Mapping[str, Any]) -> list[str]:
    return [str(a["DataLakePrincipalIdentifier"]) for a in settings.get("DataLakeAdmins", [])]


def merged(
    settings: Mapping[str, Any], add: Iterable[str], remove: Iterable[str]
) -> dict[str, Any]:
    """``settings`` with ``add`` appended to the admins and ``remove`` taken out; every other
    setting (and every other admin, in its order) unchanged."""
    adding = list(dict.fromkeys(add))
    dropping = set(remove) - set(adding)
    kept = [a for a in _admins(settings) if a not in dropping]
    admins = kept + [a for a in adding if a not in kept]
    out = dict(settings)
    out["DataLakeAdmins"] = [{"DataLakePrincipalIdentifier": a} for a in admins]
    return out


def _settled(settings: Mapping[str, Any], add: Iterable[str], remove: Iterable[str]) -> bool:
    admins = set(_admins(settings))
    return set(add) <= admins and not (set(remove) - set(add)) & admins


def apply(
    lakeformation: Any,
    *,
    add: Iterable[str],
    remove: Iterable[str] = (),
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Read-modify-write the account's settings until ``add`` is in and ``remove`` is out."""
    add, remove = list(add), list(remove)
    current = lakeformation.get_data_lake_settings()["DataLakeSettings"]
    for attempt in range(ATTEMPTS):
        if _settled(current, add, remove):
            return dict(current)
        lakeformation.put_data_lake_settings(DataLakeSettings=merged(current, add, remove))
        if attempt:
            sleep(0.5 * attempt)
        current = lakeformation.get_data_lake_settings()["DataLakeSettings"]
    if _settled(current, add, remove):
        return dict(current)
    raise RuntimeError(
        f"the data-lake admins kept changing under {ATTEMPTS} writes (another stack updating "
        "them at the same time?); retry the deployment"
    )


def _principals(props: Mapping[str, Any] | None) -> list[str]:
    return [str(p) for p in (props or {}).get("Admins", [])]


def _respond(event: Mapping[str, Any], status: str, reason: str, physical_id: str) -> None:
    body = json.dumps(
        {
            "Status": status,
            "Reason": reason[:1000],
            "PhysicalResourceId": physical_id,
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
        }
    ).encode()
    request = urllib.request.Request(
        str(event["ResponseURL"]),
        data=body,
        method="PUT",
        headers={"Content-Type": "", "Content-Length": str(len(body))},
    )
    with urllib.request.urlopen(request, timeout=30):
        pass


def handler(event: dict[str, Any], context: object | None = None) -> None:
    """The custom resource's Lambda entrypoint (``Create``, ``Update``, ``Delete``)."""
    # Stable across updates: a new id would make CloudFormation delete the old resource, and
    # with it the admins this update just kept.
    physical_id = str(
        event.get("PhysicalResourceId") or f"meshkit-data-lake-admins-{event['LogicalResourceId']}"
    )
    try:
        import boto3

        lakeformation = boto3.client("lakeformation")
        ours = _principals(event.get("ResourceProperties"))
        kind = event["RequestType"]
        if kind == "Create":
            apply(lakeformation, add=ours)
        elif kind == "Update":
            old = _principals(event.get("OldResourceProperties"))
            apply(lakeformation, add=ours, remove=[p for p in old if p not in ours])
        else:
            apply(lakeformation, add=[], remove=ours)
    except Exception as exc:
        _respond(event, "FAILED", f"{type(exc).__name__}: {exc}", physical_id)
        return
    _respond(event, "SUCCESS", "", physical_id)

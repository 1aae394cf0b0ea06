"""Apply only the delta, in Batch{Grant,Revoke}Permissions calls of at most 20 entries.

The batch calls answer HTTP 200 with per-entry ``Failures`` (research §A.1), so every response
is read entry by entry. Throttling, ConcurrentModificationException and timeouts are retried
(whole call or failed entries) with exponential backoff; any other failure is reported with
its entry, never hidden. Grants go first, then revokes, so a changed grant never passes
through a no-access window; a revoke of ALL is the exception (ALL revokes every permission,
so it runs before the grants of what stays).

Data-cells filters are created and updated first (a grant on a filter that does not exist
fails), one call each, and deleted last, after the revokes of the grants on them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from meshkit.governance.plan import Change, FilterChange, Plan

__all__ = ["BATCH", "ApplyResult", "apply_plan"]

#: Lake Formation's documented maximum of entries per batch call (botocore does not check it).
BATCH = 20
RETRYABLE = frozenset(
    {
        "ThrottlingException",
        "ConcurrentModificationException",
        "OperationTimeoutException",
        "TooManyRequestsException",
    }
)


@dataclass
class ApplyResult:
    """What happened: calls made, changes applied, and the entries that failed for good."""

    calls: int = 0
    granted: list[Change] = field(default_factory=list)
    revoked: list[Change] = field(default_factory=list)
    failures: list[tuple[Change, str, str]] = field(default_factory=list)
    retries: int = 0
    filters: list[FilterChange] = field(default_factory=list)
    filter_failures: list[tuple[FilterChange, str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures and not self.filter_failures


def apply_plan(
    lakeformation: Any,
    plan: Plan,
    *,
    catalog_id: str | None = None,
    attempts: int = 5,
    sleep: Callable[[float], None] = time.sleep,
) -> ApplyResult:
    """Apply ``plan`` through ``lakeformation`` (a boto3 client)."""
    result = ApplyResult()
    first = [c for c in plan.revokes if "ALL" in c.permissions]
    last = [c for c in plan.revokes if "ALL" not in c.permissions]
    for change in plan.filter_changes:
        if change.action != "delete":
            _filter_call(lakeformation, change, result, attempts, sleep)
    _run(lakeformation, "revoke", first, result, catalog_id, attempts, sleep)
    _run(lakeformation, "grant", plan.grants, result, catalog_id, attempts, sleep)
    _run(lakeformation, "revoke", last, result, catalog_id, attempts, sleep)
    for change in plan.filter_changes:
        if change.action == "delete":
            _filter_call(lakeformation, change, result, attempts, sleep)
    return result


def _filter_call(
    client: Any,
    change: FilterChange,
    result: ApplyResult,
    attempts: int,
    sleep: Callable[[float], None],
) -> None:
    """Create, update or delete one data-cells filter, retrying what is retryable."""
    r = change.resource
    for attempt in range(attempts):
        result.calls += 1
        try:
            if change.action == "delete":
                client.delete_data_cells_filter(
                    TableCatalogId=r.catalog,
                    DatabaseName=r.database,
                    TableName=r.table,
                    Name=r.name,
                )
            else:
                assert change.spec is not None
                call = (
                    client.create_data_cells_filter
                    if change.action == "create"
                    else client.update_data_cells_filter
                )
                call(TableData=change.spec.table_data(r))
        except Exception as exc:  # botocore ClientError: retry only what is retryable
            code = _code(exc)
            if code in RETRYABLE and attempt + 1 < attempts:
                result.retries += 1
                sleep(0.2 * 2**attempt)
                continue
            result.filter_failures.append((change, code or type(exc).__name__, str(exc)))
            return
        result.filters.append(change)
        return


def _run(
    client: Any,
    action: str,
    changes: list[Change],
    result: ApplyResult,
    catalog_id: str | None,
    attempts: int,
    sleep: Callable[[float], None],
) -> None:
    call = client.batch_grant_permissions if action == "grant" else client.batch_revoke_permissions
    done = result.granted if action == "grant" else result.revoked
    for start in range(0, len(changes), BATCH):
        pending = dict(enumerate(changes[start : start + BATCH]))
        for attempt in range(attempts):
            kwargs: dict[str, Any] = {"Entries": [c.entry(i) for i, c in pending.items()]}
            if catalog_id:
                kwargs["CatalogId"] = catalog_id
            result.calls += 1
            try:
                answer = call(**kwargs)
            except Exception as exc:  # botocore ClientError: retry only what is retryable
                code = _code(exc)
                if code in RETRYABLE and attempt + 1 < attempts:
                    result.retries += 1
                    sleep(0.2 * 2**attempt)
                    continue
                for change in pending.values():
                    result.failures.append((change, code or type(exc).__name__, str(exc)))
                break
            retry: dict[int, Change] = {}
            failed: set[int] = set()
            for failure in answer.get("Failures") or []:
                index = int(str(failure["RequestEntry"]["Id"]).removeprefix("e"))
                error = failure.get("Error") or {}
                code = str(error.get("ErrorCode", ""))
                failed.add(index)
                if code in RETRYABLE and attempt + 1 < attempts:
                    retry[index] = pending[index]
                else:
                    result.failures.append(
                        (pending[index], code, str(error.get("ErrorMessage", "")))
                    )
            done.extend(c for i, c in pending.items() if i not in failed)
            if not retry:
                break
            result.retries += 1
            pending = retry
            sleep(0.2 * 2**attempt)


def _code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code")) or None
    return None

"""Plan and apply a personas file against one account's catalog (local mesh or AWS).

The same functions serve the CLI (the caller's credentials), the central handlers (the Lambda
role) and the local mesh (its moto sessions): one logic, two engines.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from meshkit.governance.apply import ApplyResult, apply_plan
from meshkit.governance.plan import Plan, compute
from meshkit.governance.state import desired_state, read_actual, read_catalog, read_filters

if TYPE_CHECKING:
    from collections.abc import Callable

    from meshkit.governance.model import PersonasFile

__all__ = ["Outcome", "apply_file", "plan_file"]


@dataclass
class Outcome:
    """A plan, what applying it did (None for a plan only), and the read calls it took."""

    plan: Plan
    applied: ApplyResult | None
    read_calls: int


def _uses_tags(file: PersonasFile) -> bool:
    return any(rule.lf_tags is not None for p in file.personas for rule in p.rules)


def plan_file(file: PersonasFile, glue: Any, lakeformation: Any, account: str) -> Outcome:
    """The exact plan for ``file`` on ``account``'s catalog."""
    catalog = read_catalog(glue, lakeformation, account, with_tags=_uses_tags(file))
    desired = desired_state(file, catalog)
    actual, calls = read_actual(lakeformation, account, desired.persona_of)
    on_filters, filters, filter_calls = read_filters(lakeformation, account)
    plan = compute(desired, {**actual, **on_filters}, filters)
    return Outcome(plan, None, calls + filter_calls)


def apply_file(
    file: PersonasFile,
    glue: Any,
    lakeformation: Any,
    account: str,
    *,
    sleep: Callable[[float], None] | None = None,
) -> Outcome:
    """Plan, then apply only the delta."""
    outcome = plan_file(file, glue, lakeformation, account)
    kwargs: dict[str, Any] = {"catalog_id": account}
    if sleep is not None:
        kwargs["sleep"] = sleep
    outcome.applied = apply_plan(lakeformation, outcome.plan, **kwargs)
    return outcome

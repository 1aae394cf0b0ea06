"""API call accounting per flow window, from botocore hooks on every session."""

from __future__ import annotations

import threading
import time
from collections import Counter
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from meshkit.local.accounts import is_internal_call
from meshkit.local.types import FlowStats

if TYPE_CHECKING:
    from collections.abc import Iterator

    import boto3

__all__ = ["POLL_OPERATIONS", "Accounting"]

#: The calls the predecessors' wait loops polled with; an event-driven mesh makes none.
POLL_OPERATIONS = frozenset(
    {
        "glue.GetCrawler",
        "glue.GetCrawlerMetrics",
        "glue.GetCrawls",
        # The DataZone auto-publish seed's loops: environment every 20 s, data source every 5 s.
        "datazone.GetEnvironment",
        "datazone.GetDataSource",
    }
)


class Accounting:
    """Counts the calls handlers (and the code driving the mesh) make, by ``service.Operation``.

    Calls the mesh makes for itself (provisioning, queue polling that Lambda's event source
    mapping would do, inspection) are not counted.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.total: Counter[str] = Counter()
        self.by_account: dict[str, Counter[str]] = {}
        self._windows: list[FlowStats] = []
        #: Every finished flow window, in order.
        self.flows: list[FlowStats] = []

    def attach(self, account_id: str, session: boto3.session.Session) -> None:
        def before_call(event_name: str, model: Any = None, **_: Any) -> None:
            if is_internal_call():
                return
            if model is not None:
                # The client's name (``events``), not the hook's service id (``eventbridge``).
                name = f"{model.service_model.service_name}.{model.name}"
            else:
                name = ".".join(event_name.split(".")[1:3])
            self.record(account_id, name)

        # ``before-parameter-build`` reaches every handler (``before-call`` stops at the first
        # hook that answers, and the lake simulation answers some calls moto cannot): a call
        # answered by a hook still counts as the call the handler made.
        session.events.register(
            "before-parameter-build", before_call, unique_id=f"meshkit-accounting-{account_id}"
        )

    def record(self, account_id: str, operation: str) -> None:
        with self._lock:
            self.total[operation] += 1
            self.by_account.setdefault(account_id, Counter())[operation] += 1
            for window in self._windows:
                window.api_calls += 1
                window.calls_by_operation[operation] += 1
                if operation in POLL_OPERATIONS:
                    window.polls += 1

    def record_event(self) -> None:
        """A handler delivery happened (counted into every open window)."""
        with self._lock:
            for window in self._windows:
                window.events += 1

    @contextmanager
    def window(self, name: str) -> Iterator[FlowStats]:
        """Count into ``FlowStats(name)`` while the block runs; windows may nest."""
        stats = FlowStats(name=name)
        started = time.perf_counter()
        with self._lock:
            self._windows.append(stats)
        try:
            yield stats
        except BaseException:
            stats.ok = False
            raise
        finally:
            stats.seconds = time.perf_counter() - started
            with self._lock:
                self._windows.remove(stats)
                self.flows.append(stats)

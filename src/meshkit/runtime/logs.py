"""Log records that say which event they belong to, whoever logs them.

While the router processes an event, every log record that reaches the root logger's handlers
— the router's, the handler's (``ctx.logger``), botocore's, any library's that propagates —
carries ``correlation_id``, ``event_id`` and ``handler`` as record attributes. Lambda's JSON
log format (the constructs set ``LoggingFormat.JSON``) writes a record's extra attributes as
top-level keys beside ``timestamp``, ``level``, ``message``, ``logger`` and ``requestId``, so
CloudWatch Logs Insights can filter one flow across functions (``filter correlation_id = ...``).

The fields live in a context variable; a filter on each handler of the root logger (Lambda's
runtime installs its handler there) copies them onto the record, after the caller's own
``extra=``, which wins.
"""

from __future__ import annotations

import contextvars
import logging
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["FIELDS", "EventFields", "bind", "current"]

#: The attributes every record of an invocation carries (``-`` while unknown).
FIELDS = ("correlation_id", "event_id", "handler")

_CURRENT: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "meshkit_log_fields", default=None
)


class EventFields(logging.Filter):
    """Adds the bound fields to a record that does not carry them yet; never drops one."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = _CURRENT.get()
        if fields:
            for name, value in fields.items():
                if not hasattr(record, name):
                    setattr(record, name, value)
        return True


_FILTER = EventFields()


def _attach() -> None:
    for handler in logging.getLogger().handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)


def current() -> dict[str, str]:
    """The fields bound now (empty outside an event)."""
    return dict(_CURRENT.get() or {})


@contextmanager
def bind(**fields: str | None) -> Iterator[None]:
    """Records handled inside carry ``fields`` (merged over those already bound)."""
    _attach()
    merged = {**current(), **{k: v if v else "-" for k, v in fields.items()}}
    token = _CURRENT.set(merged)
    try:
        yield
    finally:
        _CURRENT.reset(token)

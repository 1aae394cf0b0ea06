"""Optional dependencies: one friendly line naming the extra to install, never a traceback.

meshkit's core (events, handlers, runtime) needs only pydantic and boto3; the constructs, the
local mesh and the Parquet purge need an extra. Where such a part is imported or used, it calls
:func:`require` (or imports under :func:`needs`): a missing dependency raises
:class:`MissingExtraError`, whose one-line message says what to ``pip install``. Left uncaught,
it is printed as that one line (no traceback). Standard library only.
"""

from __future__ import annotations

import importlib.util
import sys
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import TracebackType

__all__ = ["EXTRAS", "MissingExtraError", "missing", "needs", "require"]

#: The importable top-level modules each extra brings (rich is optional in ``local``).
EXTRAS: dict[str, tuple[str, ...]] = {
    "cdk": ("aws_cdk", "constructs"),
    "local": ("moto", "duckdb", "pyarrow"),
    "erasure": ("pyarrow",),
    "permissions": ("yaml",),
}


class MissingExtraError(ImportError):
    """A part of meshkit needs an extra that is not installed (the message says which)."""


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def missing(extra: str) -> list[str]:
    """The modules of ``extra`` that cannot be imported here."""
    return [m for m in EXTRAS[extra] if not _installed(m)]


def _error(what: str, extra: str, modules: list[str]) -> MissingExtraError:
    names = ", ".join(modules)
    verb = "is" if len(modules) == 1 else "are"
    _install_hook()
    return MissingExtraError(
        f"{what} needs the '{extra}' extra ({names} {verb} not installed): "
        f"pip install 'meshkit[{extra}]'",
        name=modules[0],
    )


def require(extra: str, what: str) -> None:
    """Raise :class:`MissingExtraError` unless every module of ``extra`` can be imported."""
    absent = missing(extra)
    if absent:
        raise _error(what, extra, absent)


@contextmanager
def needs(extra: str, what: str) -> Iterator[None]:
    """Imports inside the block that fail on one of ``extra``'s modules name the extra."""
    try:
        yield
    except ModuleNotFoundError as exc:
        top = (exc.name or "").split(".")[0]
        if top not in EXTRAS[extra]:
            raise
        raise _error(what, extra, [top]) from None


def _install_hook() -> None:
    """Print an uncaught MissingExtraError as its one line; anything else as before."""
    previous = sys.excepthook
    if getattr(previous, "_meshkit_extras", False):
        return

    def hook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> Any:
        if isinstance(value, MissingExtraError):
            print(f"{kind.__name__}: {value}", file=sys.stderr)
            return None
        return previous(kind, value, tb)

    hook._meshkit_extras = True  # type: ignore[attr-defined]
    sys.excepthook = hook

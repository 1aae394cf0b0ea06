"""Runtime configuration: one account's view of the mesh, from the environment or given.

``MeshConfig`` is the one description of a handler's configuration: ``to_env`` is the
environment builder the CDK constructs put on every function (built-in groups and team
functions alike), ``from_env`` reads it back in Lambda, and the local mesh hands the same
objects to its handlers. Variable names come from the fields (``env_name``), never from a list
kept by hand elsewhere.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable

    from pydantic import BaseModel

    M = TypeVar("M", bound=BaseModel)

__all__ = ["ENV_PREFIX", "MeshConfig", "team_settings"]

ENV_PREFIX = "MESHKIT_"

Role = Literal["central", "domain"]

#: How a field's value is written to / read from its variable.
_Kind = Literal["str", "int", "json"]


def _env(name: str | None = None, kind: _Kind = "str") -> dict[str, Any]:
    """Field metadata: carried by ``MESHKIT_<name>`` (default: the field name, upper case)."""
    return {"env": name, "kind": kind}


@dataclass(frozen=True)
class MeshConfig:
    """What a handler needs to know about where it runs.

    In Lambda it comes from ``MESHKIT_*`` environment variables set by the constructs; the local
    mesh builds one per account. ``settings`` carries policy knobs (see ``setting``) and a team
    function's own settings (see ``settings_as``).
    """

    mesh_name: str = field(metadata=_env())
    role: Role = field(metadata=_env())
    account_id: str = field(metadata=_env())
    region: str = field(metadata=_env())
    central_account: str = field(metadata=_env())
    #: This account's mesh bus (name or ARN): follow-up events are put here.
    bus: str = field(metadata=_env())
    #: Central's bus ARN (domains forward to it through a rule; kept for reference).
    central_bus: str = field(default="", metadata=_env())
    #: The handler group this process serves (see meshkit.topology).
    group: str = field(default="", metadata=_env())
    #: For a domain deployment: the domain it serves.
    domain: str | None = field(default=None, metadata=_env())
    registry_table: str | None = field(default=None, metadata=_env())
    idempotency_table: str | None = field(default=None, metadata=_env())
    #: Where rejected events are sent with their reason (an SQS queue URL).
    dead_letter_queue_url: str | None = field(default=None, metadata=_env("DLQ_URL"))
    #: SQS maxReceiveCount of the group's queue: the attempt that emits FlowFailed.
    max_receive_count: int = field(default=5, metadata=_env(kind="int"))
    #: Name of the role meshkit assumes in another account, when a handler needs to.
    cross_account_role_name: str | None = field(default=None, metadata=_env("CROSS_ACCOUNT_ROLE"))
    settings: Mapping[str, Any] = field(default_factory=dict, metadata=_env(kind="json"))

    def setting(self, name: str, default: Any) -> Any:
        return self.settings.get(name, default)

    def settings_as(self, model: type[M]) -> M:
        """The settings validated by a pydantic ``model`` (a team's typed settings); names the
        model does not declare are ignored, a missing or invalid one is a ValidationError."""
        return model.model_validate(dict(self.settings))

    def with_settings(self, settings: Any, *, what: str = "settings") -> MeshConfig:
        """This configuration plus a team's ``settings`` (a mapping or a pydantic model).

        A name meshkit already uses in this account is refused (``what`` names the caller in
        the error): a team setting never changes how meshkit's own handlers behave.
        """
        extra = team_settings(settings)
        clash = sorted(set(extra) & set(self.settings))
        if clash:
            raise ValueError(
                f"{what}: {clash} already set in this account's settings (meshkit's own, or "
                "given before); give your settings other names (a prefix such as 'team_')"
            )
        return dataclasses.replace(self, settings={**self.settings, **extra})

    @staticmethod
    def env_name(field_name: str) -> str:
        """The variable of ``field_name`` (``dead_letter_queue_url``: ``MESHKIT_DLQ_URL``)."""
        for f in dataclasses.fields(MeshConfig):
            if f.name == field_name:
                return ENV_PREFIX + (f.metadata["env"] or f.name.upper())
        raise KeyError(f"MeshConfig has no field {field_name!r}")

    @classmethod
    def env_names(cls) -> dict[str, str]:
        """Field name -> variable name, for every field."""
        return {f.name: cls.env_name(f.name) for f in dataclasses.fields(cls)}

    def to_env(self, *, dumps: Callable[[Any], str] | None = None) -> dict[str, str]:
        """The ``MESHKIT_*`` variables ``from_env`` reads back into this configuration.

        Unset optional values are left out. ``dumps`` serialises the settings (default: sorted
        JSON); the constructs pass one that resolves CDK tokens (``Stack.to_json_string``).
        """
        out: dict[str, str] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            kind = f.metadata["kind"]
            if kind == "json":
                text = (dumps or _sorted_json)(dict(value))
            elif kind == "int":
                text = str(value)
            else:
                text = value or ""
            if text:
                out[self.env_name(f.name)] = text
        return out

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> MeshConfig:
        """Read ``MESHKIT_*`` variables; a missing required one is a clear error."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            name = cls.env_name(f.name)
            raw = env.get(name) or None
            if f.name == "region":
                raw = env.get("AWS_REGION") or raw
            required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            if raw is None:
                if required:
                    raise KeyError(
                        f"environment variable {name} is not set; the meshkit constructs set "
                        "it, set it yourself when running a handler elsewhere"
                    )
                continue
            kind = f.metadata["kind"]
            try:
                values[f.name] = (
                    json.loads(raw) if kind == "json" else int(raw) if kind == "int" else raw
                )
            except ValueError as exc:
                raise ValueError(f"{name}={raw[:80]!r} is not valid {kind}: {exc}") from exc
        if values["role"] not in ("central", "domain"):
            raise ValueError(
                f"{ENV_PREFIX}ROLE must be 'central' or 'domain', not {values['role']!r}"
            )
        return cls(**values)


def team_settings(settings: Any) -> dict[str, Any]:
    """A team's settings as a JSON-ready mapping: a mapping, or a pydantic model (dumped)."""
    if settings is None:
        return {}
    dump = getattr(settings, "model_dump", None)
    if callable(dump):
        return dict(dump(mode="json"))
    if not isinstance(settings, Mapping):
        raise TypeError(f"settings: a mapping or a pydantic model, not {type(settings).__name__}")
    for name in settings:
        if not isinstance(name, str) or not name:
            raise ValueError(f"settings names are non-empty strings, not {name!r}")
    return dict(settings)


def _sorted_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True)

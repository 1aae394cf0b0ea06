"""Team functions: a team's own router deployed the way the built-in handler groups are.

``MeshFunction`` ships meshkit's package with the team's code, the pydantic layer (or the team's
own), the ``MESHKIT_*`` environment (``MeshConfig.to_env``) and the grants a router needs;
``MeshEventSource`` subscribes any function to mesh events like CDK's ``SqsEventSource``:
rule(s) -> queue with its dead-letter queue and alarm -> event source mapping with partial batch
responses. ``DataDomain.add_handler`` and ``CentralGovernance.add_handler`` are
``function.add_event_source(MeshEventSource(...))``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import shutil
import tempfile
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import jsii
from aws_cdk import Annotations, Duration, RemovalPolicy
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs

from constructs import Construct
from meshkit import topology
from meshkit.constructs import _code, _nag
from meshkit.constructs._handlers import (
    _BATCH_SIZE,
    CustomHandler,
    HandlerOptions,
    add_queue_rule,
    drop_role_dependency,
    lambda_role,
    mesh_environment,
    queue_with_dlq,
)
from meshkit.runtime.config import team_settings

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from aws_cdk import aws_dynamodb as dynamodb

    from meshkit.events.base import EventDetail
    from meshkit.runtime.config import MeshConfig

__all__ = ["MeshEventSource", "MeshFunction", "MeshScope", "team_code"]

_HANDLER = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+\Z")
#: What never ships from a team's folder.
_IGNORED = ("__pycache__", "*.pyc", "*.pyo", ".mypy_cache", ".pytest_cache", "cdk.out", ".venv")


class MeshScope(Protocol):
    """What a team function needs of ``DataDomain`` or ``CentralGovernance``."""

    @property
    def mesh_config(self) -> MeshConfig: ...

    @property
    def handler_options(self) -> HandlerOptions: ...

    @property
    def bus(self) -> events.IEventBus: ...

    @property
    def idempotency(self) -> dynamodb.ITable: ...

    @property
    def node(self) -> Any: ...


def _source_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if "__pycache__" in path.parts:
            continue
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@cache
def _staged(entry: Path, digest: str) -> Path:
    """meshkit's Lambda package beside the team's files, in one folder (once per content)."""
    root = Path(tempfile.mkdtemp(prefix=f"meshkit-team-{digest[:12]}-"))
    import atexit

    atexit.register(shutil.rmtree, root, True)
    shutil.copytree(_code._staged_package() / "meshkit", root / "meshkit")
    shutil.copytree(entry, root, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*_IGNORED))
    return root


def team_code(entry: str | Path, handler: str) -> lambda_.Code:
    """The team's folder ``entry`` plus meshkit's package, as one asset (no Docker)."""
    folder = Path(entry).resolve()
    if not folder.is_dir():
        raise ValueError(f"entry={str(entry)!r} is not a folder: give the folder of your code")
    if (folder / "meshkit").exists():
        raise ValueError(
            f"entry={str(entry)!r} holds a meshkit folder: MeshFunction ships meshkit itself, "
            "remove the copy"
        )
    if not _HANDLER.match(handler):
        raise ValueError(f"handler={handler!r}: use 'module.function', e.g. 'app.handler'")
    module = handler.rsplit(".", 1)[0].replace(".", "/")
    if not (folder / f"{module}.py").is_file() and not (folder / module / "__init__.py").is_file():
        raise ValueError(
            f"handler={handler!r}: no {module}.py (nor {module}/__init__.py) in {folder}"
        )
    return lambda_.Code.from_asset(str(_staged(folder, _source_digest(folder))))


class MeshFunction(lambda_.Function):
    """A team's Lambda function running a meshkit ``EventRouter``, configured as the built-in
    handler groups are.

    ``entry`` is the folder of the team's code and ``handler`` its entrypoint (``app.handler``:
    ``return router.resolve(event, context)``). The function gets meshkit's package beside that
    code, the Powertools layer (pydantic) or ``layer``, the ``MESHKIT_*`` environment of
    ``mesh`` with ``settings`` added (read in the handler with ``ctx.config.setting(name, ...)``
    or ``ctx.config.settings_as(Model)``), its own role with the idempotency table and
    ``events:PutEvents`` on the mesh bus, and a log group. ``events`` subscribes it at once
    (``add_event_source(MeshEventSource(mesh, events))``).
    """

    PROPS: ClassVar[dict[str, str]] = {
        "mesh": "The `DataDomain` or `CentralGovernance` the function belongs to.",
        "entry": "Folder of the team's code; shipped with meshkit's package beside it.",
        "handler": "The Lambda entrypoint in that folder (`module.function`).",
        "settings": "The function's own settings (a dict or a pydantic model), added to "
        "`MESHKIT_SETTINGS`; read with `ctx.config.setting(...)` / `settings_as(Model)`.",
        "layer": "A layer bringing pydantic (default: the public Powertools layer).",
        "events": "Event classes to subscribe at once (`MeshEventSource`).",
        "description": "The function's description.",
        "memory_size": "Memory of the function (MB).",
        "timeout": "Timeout of the function (default: the construct's handlers').",
        "environment": "More environment variables (`MESHKIT_*` are meshkit's).",
        "log_retention": "Retention of the function's log group (default: the construct's).",
    }

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        mesh: MeshScope,
        entry: str | Path,
        handler: str = "app.handler",
        settings: Mapping[str, Any] | Any = None,
        layer: lambda_.ILayerVersion | None = None,
        events: Sequence[type[EventDetail]] = (),
        description: str | None = None,
        memory_size: int = 512,
        timeout: Duration | None = None,
        environment: Mapping[str, str] | None = None,
        log_retention: logs.RetentionDays | None = None,
    ) -> None:
        options = mesh.handler_options
        code = team_code(entry, handler)
        holder = Construct(scope, id + "Support")
        log_group = logs.LogGroup(
            holder,
            "Logs",
            retention=log_retention or options.log_retention,
            removal_policy=RemovalPolicy.DESTROY,
        )
        role = lambda_role(
            holder, "Role", description=f"meshkit team function {id}", log_group=log_group
        )
        team = team_settings(settings)
        config = mesh.mesh_config.with_settings(team, what=f"MeshFunction {id}")
        env = {**mesh_environment(scope, config), **dict(environment or {})}
        env.setdefault("POWERTOOLS_SERVICE_NAME", id)
        super().__init__(
            scope,
            id,
            code=code,
            handler=handler,
            runtime=options.runtime,
            architecture=options.architecture,
            layers=[layer or _dependencies_layer(holder, options)],
            role=role,
            environment=env,
            description=description or f"meshkit team function {id}",
            memory_size=memory_size,
            timeout=timeout or options.timeout,
            log_group=log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=lambda_.ApplicationLogLevel.INFO,
            system_log_level_v2=lambda_.SystemLogLevel.WARN,
        )
        self.mesh = mesh
        self.settings = team
        self.mesh_config = config
        grant_mesh(mesh, role)
        drop_role_dependency(self, role)
        _nag.acknowledge(self, "AwsSolutions-L1", _nag.REASONS["runtime"])
        self.log_group_ = log_group
        if events:
            self.add_event_source(MeshEventSource(mesh, events))

    def add_settings(self, settings: Mapping[str, Any] | Any) -> None:
        """Add settings (names not yet used) to the function's ``MESHKIT_SETTINGS``."""
        extra = team_settings(settings)
        self.mesh_config = self.mesh_config.with_settings(extra, what=f"{self.node.path}")
        self.settings.update(extra)
        self._write_environment()

    def _write_environment(self) -> None:
        for name, value in mesh_environment(self, self.mesh_config).items():
            self.add_environment(name, value)


def _dependencies_layer(scope: Construct, options: HandlerOptions) -> lambda_.ILayerVersion:
    """The layer bringing pydantic, as the built-in handler groups have it: the construct's
    ``dependencies_layer``, else the public Powertools layer of the stack's partition."""
    return _code.dependencies_layer(
        scope,
        "Powertools",
        layer=options.dependencies_layer,
        version=options.powertools_layer_version,
        architecture=options.architecture,
        runtime=options.runtime,
    )


def grant_mesh(mesh: MeshScope, grantee: iam.IGrantable) -> None:
    """What a router needs of the account: its idempotency table and the mesh bus."""
    mesh.idempotency.grant_read_write_data(grantee)
    mesh.bus.grant_put_events_to(grantee)
    if isinstance(grantee, iam.Role):
        _nag.acknowledge_actions(grantee, ["kms:GenerateDataKey*", "kms:ReEncrypt*"], "kms")


@jsii.implements(lambda_.IEventSource)
class MeshEventSource:
    """Mesh events for a function, shaped like CDK's ``SqsEventSource``:
    ``fn.add_event_source(MeshEventSource(domain, [AccessGranted]))``.

    Creates, under ``mesh``, the rule(s) of ``meshkit.topology.custom_rules`` (an event only
    central sends is matched from central's account unless ``any_sender``), a KMS-encrypted,
    TLS-only queue with its dead-letter queue and alarm, and the event source mapping with
    ``ReportBatchItemFailures``. It configures the function for meshkit's router: the DLQ URL
    and receive count in its environment and the grants; a plain ``lambda_.Function`` also gets
    the ``MESHKIT_*`` environment (with ``settings``) and the pydantic layer, its code staying
    its own. An imported function cannot be configured: a CDK warning says what to set.
    """

    def __init__(
        self,
        mesh: MeshScope,
        models: type[EventDetail] | Sequence[type[EventDetail]],
        *,
        id: str | None = None,
        settings: Mapping[str, Any] | Any = None,
        any_sender: bool = False,
        batch_size: int = _BATCH_SIZE,
    ) -> None:
        self.models = [models] if isinstance(models, type) else list(models)
        self.rules_spec = topology.custom_rules(
            self.models, central_account=mesh.mesh_config.central_account, any_sender=any_sender
        )
        if not 1 <= batch_size <= _BATCH_SIZE:
            raise ValueError(
                f"batch_size={batch_size}: 1..{_BATCH_SIZE} (ten EventBridge events fit Lambda's "
                "6 MB payload)"
            )
        self.mesh = mesh
        self.id = id or "Custom" + "".join(m.__name__ for m in self.models)[:200]
        self.settings = team_settings(settings)
        self.batch_size = batch_size
        self.handler: CustomHandler | None = None

    def bind(self, target: lambda_.IFunction) -> None:
        if getattr(target, "_meshkit_source", None) is not None:
            raise ValueError(
                f"{target.node.path} already has a MeshEventSource: subscribe it once, with "
                "every event class in one list (its dead-letter queue is in its environment)"
            )
        scope = self.mesh  # the rules and queues belong to the mesh construct, like its own
        if scope.node.try_find_child(self.id) is not None:
            raise ValueError(
                f"{scope.node.path} already has a team handler {self.id!r}: pass id= to name "
                "this one"
            )
        options = self.mesh.handler_options
        holder = Construct(scope, self.id)  # type: ignore[arg-type]
        timeout = options.timeout
        fn_timeout = target.timeout if isinstance(target, lambda_.Function) else None
        if fn_timeout is not None and fn_timeout.to_seconds() > timeout.to_seconds():
            timeout = fn_timeout
        wiring = queue_with_dlq(holder, "Work", options, timeout=timeout)
        rules: list[events.CfnRule] = []
        for spec in self.rules_spec:
            rules.append(
                add_queue_rule(
                    holder,
                    spec.id,
                    queue=wiring.queue,
                    key=options.key,
                    event_pattern=spec.pattern,
                    event_bus=self.mesh.bus if spec.bus == "mesh" else None,
                    description=f"meshkit team handler {self.id}: "
                    + ("mesh events" if spec.bus == "mesh" else "AWS service events"),
                    dead_letters=options.delivery(),
                )
            )
        source = sources.SqsEventSource(
            wiring.queue, batch_size=self.batch_size, report_batch_item_failures=True
        )
        target.add_event_source(source)
        self._configure(target, wiring.dlq.queue_url, options)
        if target.role is not None:
            wiring.dlq.grant_send_messages(target)
        object.__setattr__(target, "_meshkit_source", self)
        self.handler = CustomHandler(
            rules=rules,
            queue=wiring.queue,
            dead_letter_queue=wiring.dlq,
            event_source=source,
            dead_letter_alarm=wiring.dlq_alarm,
        )

    def _configure(self, target: lambda_.IFunction, dlq_url: str, options: HandlerOptions) -> None:
        what = f"MeshEventSource {self.id}"
        if isinstance(target, MeshFunction):
            if self.settings:
                target.add_settings(self.settings)
            target.mesh_config = dataclasses.replace(
                target.mesh_config,
                dead_letter_queue_url=dlq_url,
                max_receive_count=options.max_receive_count,
            )
            target._write_environment()
            return
        config = dataclasses.replace(
            self.mesh.mesh_config.with_settings(self.settings, what=what),
            dead_letter_queue_url=dlq_url,
            max_receive_count=options.max_receive_count,
        )
        if isinstance(target, lambda_.Function):
            for name, value in mesh_environment(target, config).items():
                target.add_environment(name, value)
            if target.runtime.family == lambda_.RuntimeFamily.PYTHON:
                # The layer of the function's own architecture and Python version.
                own = dataclasses.replace(
                    options, architecture=target.architecture, runtime=target.runtime
                )
                target.add_layers(_dependencies_layer(Construct(target, "Meshkit"), own))
            if target.role is not None:
                grant_mesh(self.mesh, target.role)
                # Only the policy in DependsOn: the role is implied by the GetAtt (cfn-lint W3005).
                drop_role_dependency(target, target.role)
            return
        names = ", ".join(sorted(mesh_environment(target, config)))
        Annotations.of(target).add_warning_v2(
            "meshkit:imported-function",
            f"{target.node.path} is imported: meshkit cannot set its environment, layers or "
            f"grants. For its router set {names} (MeshConfig.to_env) and grant it the "
            "idempotency table, the mesh bus and the dead-letter queue yourself, or deploy it "
            "with MeshFunction.",
        )
        if target.role is not None:
            grant_mesh(self.mesh, target.role)


def add_handler(
    mesh: MeshScope,
    models: type[EventDetail] | Sequence[type[EventDetail]],
    function: lambda_.IFunction,
    *,
    id: str | None = None,
    settings: Mapping[str, Any] | Any = None,
    any_sender: bool = False,
) -> CustomHandler:
    """``function.add_event_source(MeshEventSource(mesh, models, ...))``, returning what the
    event source created: the body of both constructs' ``add_handler``."""
    source = MeshEventSource(mesh, models, id=id, settings=settings, any_sender=any_sender)
    function.add_event_source(source)
    assert source.handler is not None
    return source.handler

"""The ``meshkit`` command: the event catalogue, the local demo, permissions, erasure, and the
operator's verbs (access, registry, trace, replay, local; ``meshkit.operate``).

Exit codes: 0 done, 1 error, 2 usage, 3 not found, 4 refused by the mesh's rules, 5 no local
mesh (docs/cli.md)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING, Any, TextIO

from meshkit._extras import MissingExtraError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from meshkit.events.base import EventDetail

__all__ = ["main"]

#: Exit status for a usage error (unknown detail-type, bad arguments), as argparse uses.
USAGE_ERROR = 2


class CliError(Exception):
    """A user-facing error: printed without a traceback, exits with ``status``."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def _table(rows: list[list[str]], headers: list[str], out: TextIO) -> None:
    """A table: rich when printing to a terminal and rich is installed, plain text otherwise."""
    if out.isatty():
        try:
            from rich.console import Console
            from rich.table import Table
        except ImportError:
            pass
        else:
            table = Table(*headers)
            for row in rows:
                table.add_row(*row)
            Console(file=out).print(table)
            return
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip(), file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip(), file=out)


def find_model(name: str) -> type[EventDetail]:
    """The model for a detail-type, a model class name, or ``source@DetailType``."""
    from meshkit.events.catalogue import all_events

    models = all_events()
    if "@" in name:
        source, _, detail_type = name.partition("@")
        matches = [m for m in models if (source, detail_type) == (m.SOURCE, m.DETAIL_TYPE)]
    else:
        matches = [m for m in models if name == m.DETAIL_TYPE] or [
            m for m in models if m.__name__ == name
        ]
    if len(matches) == 1:
        return matches[0]
    if matches:
        options = ", ".join(f"{m.SOURCE}@{m.DETAIL_TYPE}" for m in matches)
        raise CliError(f"{name!r} is ambiguous; name one of: {options}", USAGE_ERROR)
    from meshkit.operate import suggest

    names = sorted(m.DETAIL_TYPE for m in models)
    hint = suggest(name, [*names, *(m.__name__ for m in models)])
    raise CliError(
        f"unknown detail-type {name!r}{hint}; known detail-types: {', '.join(names)}",
        USAGE_ERROR,
    )


#: Fields every mesh event has; the listing leaves them out to show what differs.
_COMMON_FIELDS = ("correlation_id", "schema_version")


def cmd_events_list(args: argparse.Namespace, out: TextIO) -> int:
    from meshkit.events.catalogue import all_events

    rows = []
    for model in all_events():
        names = [f.alias or n for n, f in model.model_fields.items() if n not in _COMMON_FIELDS]
        rows.append([model.SOURCE, model.DETAIL_TYPE, model.__name__, ", ".join(names)])
    _table(rows, ["source", "detail-type", "model", "fields"], out)
    return 0


def cmd_events_show(args: argparse.Namespace, out: TextIO) -> int:
    from meshkit.events.schema import (
        SchemaProblem,
        example_detail,
        field_rows,
        model_schema,
        nested_rows,
    )

    model = find_model(args.detail_type)
    print(f"{model.__name__}: {model.SOURCE} / {model.DETAIL_TYPE}", file=out)
    print(" ".join((model.__doc__ or "").split()), file=out)
    print(file=out)
    print("Fields", file=out)
    rows = field_rows(model)
    _table(
        [[r["name"], r["type"], r["required"], r["description"]] for r in rows],
        ["field", "type", "required", "description"],
        out,
    )
    for name, nested in nested_rows(model).items():
        print(f"\n{name}", file=out)
        _table(
            [[r["name"], r["type"], r["required"], r["description"]] for r in nested],
            ["field", "type", "required", "description"],
            out,
        )
    print("\nExample detail", file=out)
    try:
        print(json.dumps(example_detail(model), indent=2), file=out)
    except SchemaProblem as exc:
        # AWS service events carry no examples of their own; a mesh event always does.
        if not model.EXTERNAL:
            raise CliError(str(exc)) from exc
        print(f"(none: {model.SOURCE} events are AWS's; see the AWS documentation)", file=out)
    print("\nJSON Schema (draft-04)", file=out)
    print(json.dumps(model_schema(model), indent=2, sort_keys=True), file=out)
    return 0


def cmd_events_export(args: argparse.Namespace, out: TextIO) -> int:
    from meshkit.events.schema import SchemaProblem, export, models_of

    try:
        models = [m for name in args.module for m in models_of(name)]
        paths = export(args.directory, models)
    except (ImportError, SchemaProblem) as exc:
        raise CliError(str(exc)) from exc
    print(f"wrote {len(paths)} schemas to {args.directory}", file=out)
    return 0


def cmd_demo(args: argparse.Namespace, out: TextIO) -> int:
    # Without the `local` extra this raises MissingExtraError: main prints its one line.
    from meshkit.local.demo import main as demo_main

    status: int = demo_main(as_json=args.json)
    return status


def cmd_portal(args: argparse.Namespace, out: TextIO) -> int:
    try:
        from meshkit.portal import serve
    except ImportError as exc:
        raise MissingExtraError(
            f"the portal needs the portal extra: pip install 'meshkit[portal]' ({exc})"
        ) from exc
    backend = None
    if args.aws:
        from meshkit.operate import aws_target
        from meshkit.portal.backend import AwsBackend

        domain = args.as_domain or os.environ.get("MESHKIT_DOMAIN")
        mesh = args.mesh or os.environ.get("MESHKIT_MESH")
        if not domain or not mesh:
            raise CliError("on AWS the portal needs --as DOMAIN and --mesh NAME", 2)
        backend = AwsBackend(aws_target(args), domain=domain, mesh_name=mesh, role=args.role)
    return serve(state_dir=args.state_dir, host=args.host, port=args.port, backend=backend)


def _parser() -> argparse.ArgumentParser:
    from meshkit import __version__

    parser = argparse.ArgumentParser(
        prog="meshkit", description="An event-driven data mesh on AWS: events, schemas, demo."
    )
    parser.add_argument("--version", action="version", version=f"meshkit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    events = commands.add_parser("events", help="the typed event catalogue")
    actions = events.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="every event type: source, detail-type, fields")
    listing.set_defaults(run=cmd_events_list)
    show = actions.add_parser("show", help="one event: fields, an example, its JSON Schema")
    show.add_argument("detail_type", metavar="DETAIL_TYPE", help="e.g. AccessRequested")
    show.set_defaults(run=cmd_events_show)
    export = actions.add_parser("export", help="write the draft-04 JSON Schemas to a directory")
    export.add_argument("directory", metavar="DIR", help="e.g. events/schemas")
    export.add_argument(
        "--module",
        action="append",
        default=[],
        metavar="MODULE",
        help="also a team's events: the models and routers of MODULE (repeatable), "
        "e.g. myteam.events",
    )
    export.set_defaults(run=cmd_events_export)

    demo = commands.add_parser("demo", help="run every mesh flow in a local mesh (moto)")
    demo.add_argument("--json", action="store_true", help="print the result as JSON")
    demo.set_defaults(run=cmd_demo)

    portal = commands.add_parser(
        "portal", help="the self-service web portal (the local mesh, or --aws as your team)"
    )
    from meshkit.operate import target_options

    target_options(portal)
    portal.add_argument("--as", dest="as_domain", default=None, help="your domain (with --aws)")
    portal.add_argument("--mesh", default=None, help="the mesh's name (with --aws; $MESHKIT_MESH)")
    portal.add_argument(
        "--role",
        choices=("owner", "consumer"),
        default="owner",
        help="act as the domain's data owner or a consumer principal (with --aws)",
    )
    portal.add_argument("--host", default="127.0.0.1")
    portal.add_argument("--port", type=int, default=8765)
    portal.set_defaults(run=cmd_portal)

    from meshkit.governance.cli import register as register_permissions

    register_permissions(commands, CliError)

    from meshkit.erasure.cli import register as register_erasure

    register_erasure(commands, CliError)

    from meshkit.operate import register as register_operate

    register_operate(commands, CliError)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; the exit status."""
    args = _parser().parse_args(argv)
    out = sys.stdout
    try:
        status: Any = args.run(args, out)
    except CliError as exc:
        print(f"meshkit: error: {exc}", file=sys.stderr)
        return exc.status
    except MissingExtraError as exc:
        print(f"meshkit: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0
    return int(status)


if __name__ == "__main__":
    sys.exit(main())

"""``meshkit permissions validate|plan|apply FILE``: against AWS with the caller's credentials, or
against the persisted local mesh (``--local``, the mesh of ``meshkit local up``).

``validate`` needs no AWS access. ``plan`` and ``apply`` use the default boto3 session (or
``--profile``/``--region``) and the caller's account as the catalog unless ``--catalog-id``.
With ``--local`` they work on the local mesh's central catalog (its mesh name gives
``mesh_domain``/``mesh_product`` their LF-tag keys); an apply there is journalled, so the next
command's rebuilt mesh holds its grants.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse
    from typing import TextIO

__all__ = ["register"]


def register(commands: Any, error: type[Exception]) -> None:
    """Add the ``permissions`` command to the ``meshkit`` parser."""
    parser = commands.add_parser("permissions", help="lake personas as code: validate, plan, apply")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, help_text in (
        ("validate", "check a personas file (YAML or TOML), errors with line:column"),
        ("plan", "the exact grants to add and revoke (table, or --json)"),
        ("apply", "apply only the delta in batches of 20"),
    ):
        sub = actions.add_parser(name, help=help_text)
        sub.add_argument("file", metavar="FILE")
        if name != "validate":
            sub.add_argument("--json", action="store_true", help="machine-readable output")
            sub.add_argument("--profile", default=None)
            sub.add_argument("--region", default=None)
            sub.add_argument("--catalog-id", default=None, help="default: the caller's account")
            sub.add_argument(
                "--mesh",
                default=None,
                help="mesh name: mesh_domain/mesh_product in lf_tags mean its LF-tag keys",
            )
            sub.add_argument(
                "--local",
                action="store_true",
                help="the persisted local mesh (`meshkit local up`), not AWS",
            )
            sub.add_argument(
                "--state-dir",
                default=None,
                help="the local mesh's state directory (default $MESHKIT_STATE_DIR or .meshkit)",
            )
        sub.set_defaults(run=lambda args, out, _e=error: run(args, out, _e))


def run(args: argparse.Namespace, out: TextIO, error: type[Exception]) -> int:
    from meshkit.governance.model import PersonasFileError, load

    try:
        file = load(args.file)
    except PersonasFileError as exc:
        raise error(str(exc)) from None
    try:
        return _run(args, out, file)
    except PersonasFileError as exc:  # rules that conflict on this catalog (row filters)
        raise error(f"{args.file}: {exc}") from None
    except _Error as exc:
        raise error(str(exc), exc.status) from None


def _run(args: argparse.Namespace, out: TextIO, file: Any) -> int:
    if args.action == "validate":
        rules = sum(len(p.rules) for p in file.personas)
        print(f"{args.file}: ok ({len(file.personas)} personas, {rules} rules)", file=out)
        return 0
    if args.local:
        return _run_local(args, out, file)
    import boto3

    from meshkit.governance.engine import apply_file, plan_file
    from meshkit.governance.handlers import with_mesh_tag_keys

    if args.mesh:
        file = with_mesh_tag_keys(file, args.mesh)

    session = boto3.session.Session(profile_name=args.profile, region_name=args.region)
    account = args.catalog_id or session.client("sts").get_caller_identity()["Account"]
    glue, lf = session.client("glue"), session.client("lakeformation")
    outcome = (plan_file if args.action == "plan" else apply_file)(file, glue, lf, account)
    return report(outcome, out, as_json=args.json)


#: ``meshkit`` exits with this when there is no local mesh (as the operator's verbs do).
EXIT_NO_MESH = 5


def _run_local(args: argparse.Namespace, out: TextIO, file: Any) -> int:
    from meshkit.local.persist import NoLocalMeshError, PersistedMesh

    if args.profile or args.region or args.catalog_id:
        raise _Error("--local works on the local mesh: --profile, --region, --catalog-id are AWS's")
    persisted = PersistedMesh(args.state_dir)
    try:
        journal = persisted.journal()
        if args.mesh and args.mesh != journal.mesh:
            raise _Error(f"--mesh {args.mesh}: the local mesh is {journal.mesh!r}")
        with persisted.open() as live:
            outcome = live.permissions(file, apply=args.action == "apply")
    except NoLocalMeshError as exc:
        raise _Error(str(exc), EXIT_NO_MESH) from exc
    return report(outcome, out, as_json=args.json)


class _Error(Exception):
    """A usage or state error of the local path (the runner turns it into the CLI's error)."""

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.status = status


def report(outcome: Any, out: TextIO, *, as_json: bool) -> int:
    """Print a plan (and an apply result); the exit status (1 when entries failed)."""
    applied = outcome.applied
    if as_json:
        data: dict[str, Any] = {"plan_id": outcome.plan.plan_id, **outcome.plan.as_json()}
        if applied is not None:
            data["applied"] = {
                "calls": applied.calls,
                "granted": len(applied.granted),
                "revoked": len(applied.revoked),
                "retries": applied.retries,
                "failures": [
                    {**c.as_json(), "error_code": code, "error": msg}
                    for c, code, msg in applied.failures
                ],
                "filters": len(applied.filters),
                "filter_failures": [
                    {**f.as_json(), "error_code": code, "error": msg}
                    for f, code, msg in applied.filter_failures
                ],
            }
        print(json.dumps(data, indent=2, sort_keys=True), file=out)
    else:
        print(outcome.plan.render(), file=out)
        if applied is not None:
            print(
                f"applied in {applied.calls} call(s): {len(applied.granted)} granted, "
                f"{len(applied.revoked)} revoked, {len(applied.filters)} filter(s) changed, "
                f"{len(applied.failures) + len(applied.filter_failures)} failed",
                file=out,
            )
            for f, code, msg in applied.filter_failures:
                print(f"  failed {f.action} filter {f.resource.describe()}: {code} {msg}", file=out)
            for change, code, msg in applied.failures:
                print(
                    f"  failed {change.resource.describe()} {change.principal}: {code} {msg}",
                    file=out,
                )
    return 1 if applied is not None and not applied.ok else 0

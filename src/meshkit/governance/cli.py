"""``meshkit permissions validate|plan|apply FILE``: against AWS with the caller's credentials.

``validate`` needs no AWS access. ``plan`` and ``apply`` use the default boto3 session (or
``--profile``/``--region``) and the caller's account as the catalog unless ``--catalog-id``.
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


def _run(args: argparse.Namespace, out: TextIO, file: Any) -> int:
    if args.action == "validate":
        rules = sum(len(p.rules) for p in file.personas)
        print(f"{args.file}: ok ({len(file.personas)} personas, {rules} rules)", file=out)
        return 0
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

"""Construct reference pages: props, resources, events, IAM and the normalised template.

``python -m meshkit.constructs.docgen constructs/`` writes one page per construct; a test fails
when the committed pages differ from freshly generated ones.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_ENVS",
    "PAGES",
    "iam_grants",
    "normalise",
    "render_pages",
    "synth_defaults",
    "write_pages",
]

#: The default configuration the pages document (placeholder accounts, one region).
CENTRAL_ACCOUNT = "111111111111"
DOMAIN_ACCOUNT = "222222222222"
REGION = "eu-west-1"
DEFAULT_ENVS = {"central": (CENTRAL_ACCOUNT, REGION), "domain": (DOMAIN_ACCOUNT, REGION)}
PAGES = {
    "CentralGovernance": "Central",
    "DataDomain": "Domain",
    "DropZone": "DropZone",
    "DomainStackSet": "StackSet",
    "MeshFunction": "Team",
}
#: The organisation's management account holding the DomainStackSet of the reference page.
MANAGEMENT_ACCOUNT = "999999999999"

_ASSET = re.compile(r"[0-9a-f]{64}")


def synth_defaults(
    *, nag: bool = False, outdir: str | None = None, extra_domains: int = 0
) -> dict[str, dict[str, Any]]:
    """Synthesize both constructs in their default configuration; templates by stack name.

    ``extra_domains`` adds more domain stacks (accounts 3000000000nn) beside them: the central
    template must not change.
    """
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    import aws_cdk as cdk

    from meshkit.constructs import (
        CentralGovernance,
        DataDomain,
        DomainStackSet,
        DropZone,
        MeshFunction,
    )
    from meshkit.events.access import AccessGranted

    app = cdk.App(outdir=outdir or tempfile.mkdtemp(prefix="meshkit-docgen-"))
    if nag:
        from cdk_nag import AwsSolutionsChecks

        cdk.Validations.of(app).add_plugins(AwsSolutionsChecks())
    central = cdk.Stack(app, "Central", env=cdk.Environment(account=CENTRAL_ACCOUNT, region=REGION))
    CentralGovernance(central, "Governance", mesh_name="demo", member_accounts=[DOMAIN_ACCOUNT])
    domain = cdk.Stack(app, "Domain", env=cdk.Environment(account=DOMAIN_ACCOUNT, region=REGION))
    DataDomain(
        domain, "Domain", mesh_name="demo", domain_name="sales", central_account=CENTRAL_ACCOUNT
    )
    zone = cdk.Stack(app, "DropZone", env=cdk.Environment(account=DOMAIN_ACCOUNT, region=REGION))
    DropZone(
        zone,
        "DropZone",
        domain=DataDomain(
            zone, "Domain", mesh_name="demo", domain_name="sales", central_account=CENTRAL_ACCOUNT
        ),
        partners={
            "acme": {
                "product": "orders",
                "format": "csv",
                "principals": ["arn:aws:iam::777777777777:role/acme-uploader"],
            }
        },
    )
    org = cdk.Stack(app, "StackSet", env=cdk.Environment(account=MANAGEMENT_ACCOUNT, region=REGION))
    DomainStackSet(
        org,
        "Domains",
        mesh_name="demo",
        central_account=CENTRAL_ACCOUNT,
        organization_id="o-abc123def4",
        organizational_unit_ids=["ou-ab12-11111111"],
    )
    team = cdk.Stack(app, "Team", env=cdk.Environment(account=DOMAIN_ACCOUNT, region=REGION))
    MeshFunction(
        team,
        "Notify",
        mesh=DataDomain(
            team, "Domain", mesh_name="demo", domain_name="sales", central_account=CENTRAL_ACCOUNT
        ),
        entry=_team_code(),
        settings={"team_channel": "#data-access"},
        events=[AccessGranted],
    )
    for n in range(extra_domains):
        account = f"3{n:011d}"
        extra = cdk.Stack(app, f"Extra{n}", env=cdk.Environment(account=account, region=REGION))
        DataDomain(
            extra,
            "Domain",
            mesh_name="demo",
            domain_name=f"extra_{n}",
            central_account=CENTRAL_ACCOUNT,
            sharing_mode="tag",
        )
    assembly = app.synth()
    return {s.stack_name: s.template for s in assembly.stacks}


#: The team code of the MeshFunction reference page (any router does).
_TEAM_APP = """from meshkit.events import AccessGranted
from meshkit.runtime.router import EventRouter

router = EventRouter("sales.notify")


@router.on(AccessGranted)
def notify(event, ctx):
    ctx.logger.info("granted %s to %s", event.product, event.consumer_domain)


def handler(event, context):
    return router.resolve(event, context)
"""


#: Logical id prefixes of what the reference MeshFunction adds to its DataDomain's stack: the
#: function with its role and logs, and its MeshEventSource's rule, queues and alarm.
_TEAM_PREFIXES = ("Notify", "DomainCustomAccessGranted")


def _team_resources(template: dict[str, Any]) -> dict[str, Any]:
    """Only the resources the MeshFunction adds (the DataDomain's are on its own page)."""
    out = dict(template)
    out["Resources"] = {
        k: r for k, r in template["Resources"].items() if k.startswith(_TEAM_PREFIXES)
    }
    out.pop("Outputs", None)
    return out


def _team_code() -> str:
    folder = Path(tempfile.mkdtemp(prefix="meshkit-docgen-team-"))
    (folder / "app.py").write_text(_TEAM_APP, encoding="utf-8")
    return str(folder)


def normalise(template: dict[str, Any]) -> dict[str, Any]:
    """Drop what changes without the infrastructure changing: asset hashes, CDK metadata."""
    text = _ASSET.sub("<asset-hash>", json.dumps(template, sort_keys=True))
    out: dict[str, Any] = json.loads(text)
    resources = out.get("Resources", {})
    resources.pop("CDKMetadata", None)
    for resource in resources.values():
        resource.pop("Metadata", None)
    out.get("Parameters", {}).pop("BootstrapVersion", None)
    out.get("Rules", {}).pop("CheckBootstrapVersion", None)
    for key in ("Parameters", "Rules", "Conditions"):
        if not out.get(key):
            out.pop(key, None)
    return out


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _short(value: Any) -> str:
    from meshkit.constructs import _nag  # aws_cdk is imported only when pages are rendered

    return _nag.render(value, strict=False)


def iam_grants(template: dict[str, Any]) -> dict[str, list[tuple[str, list[str], list[str]]]]:
    """Role logical id -> [(effect, actions, resources)] from every inline policy."""
    grants: dict[str, list[tuple[str, list[str], list[str]]]] = {}
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::IAM::Policy":
            continue
        props = resource["Properties"]
        for role in props.get("Roles", []):
            name = _short(role).strip("<>")
            for st in props["PolicyDocument"]["Statement"]:
                grants.setdefault(name, []).append(
                    (
                        st["Effect"],
                        sorted(_as_list(st["Action"])),
                        [_short(r) for r in _as_list(st.get("Resource", []))],
                    )
                )
    return dict(sorted(grants.items()))


def _props_table(cls: type) -> list[str]:
    sig = inspect.signature(cls.__init__)  # type: ignore[misc]
    docs: dict[str, str] = getattr(cls, "PROPS", {})
    lines = ["| Prop | Type | Default | Description |", "| --- | --- | --- | --- |"]
    for name, param in sig.parameters.items():
        if name in ("self", "scope", "id"):
            continue
        default = "required" if param.default is inspect.Parameter.empty else repr(param.default)
        default = re.sub(r"<aws_cdk\.([\w.]+) object at 0x[0-9a-f]+>", r"\1", default)
        default = re.sub(r"<(\w+)\.(\w+): '?([\w-]+)'?>", r"\1.\2", default)
        annotation = str(param.annotation).replace("|", "\\|")
        lines.append(f"| `{name}` | `{annotation}` | `{default}` | {docs.get(name, '')} |")
    return lines


def _events(role: str) -> tuple[list[str], list[str]]:
    from meshkit import topology
    from meshkit.events import dropzone

    if role == "dropzone":
        group = topology.group("dropzone")
        consumed = [
            f"- `{group.name}`: `{m.SOURCE}` / `{m.DETAIL_TYPE}`"
            for m in (*group.events, *group.aws_events)
        ]
        emitted = [
            f"- `{m.SOURCE}` / `{m.DETAIL_TYPE}` (on the domain bus, not forwarded)"
            for m in (
                dropzone.DropZoneCredentialsIssued,
                dropzone.DropZoneUploadAccepted,
                dropzone.DropZoneUploadRejected,
            )
        ]
        return consumed, emitted
    if role == "team":
        return [
            "- the event classes given to `MeshEventSource` / `add_handler` / `events=` "
            "(reference configuration: `meshkit.access` / `AccessGranted`, from central's "
            "account only)"
        ], ["- what the team's router returns, on this account's mesh bus"]
    if role == "stackset":
        return ["- none (each account's DataDomain consumes its own)"], [
            "- none (each account's DataDomain registers itself: `DomainRegistrationRequested`)"
        ]

    consumed = []
    for group in topology.groups_for(role):  # type: ignore[arg-type]
        only = f" (with `{group.feature}=`)" if group.feature else ""
        for model in (*group.events, *group.aws_events):
            consumed.append(f"- `{group.name}`{only}: `{model.SOURCE}` / `{model.DETAIL_TYPE}`")
        for model in group.own_events:
            consumed.append(
                f"- `{group.name}`{only}: `{model.SOURCE}` / `{model.DETAIL_TYPE}` "
                "(this account's own)"
            )
        if group.guard:
            consumed.append(
                f"- `{group.name}`: every meshkit event with no business on this bus from its "
                "sender (`meshkit.topology.guard_pattern`, see docs/trust.md), rejected with "
                "`EventRejected`"
            )
    emits = topology.CENTRAL_EMITS if role == "central" else topology.DOMAIN_EMITS
    emitted = [f"- `{m.SOURCE}` / `{m.DETAIL_TYPE}`" for m in emits]
    return consumed, emitted


def render_page(construct: str, template: dict[str, Any]) -> str:
    from meshkit import constructs

    cls = getattr(constructs, construct)
    role = {
        "CentralGovernance": "central",
        "DropZone": "dropzone",
        "DomainStackSet": "stackset",
        "MeshFunction": "team",
    }.get(construct, "domain")
    norm = normalise(template)
    if role == "team":
        norm = _team_resources(norm)
    counts = Counter(r["Type"] for r in norm["Resources"].values())
    consumed, emitted = _events(role)
    lines = [
        f"# {construct}",
        "",
        "<!-- Generated by `make constructs` (python -m meshkit.constructs.docgen constructs/). "
        "Do not edit: a test fails when this page is stale. -->",
        "",
        (inspect.getdoc(cls) or "").strip(),
        "",
        f"```python\nfrom meshkit.constructs import {construct}\n```",
        "",
        "## Props",
        "",
        *_props_table(cls),
        "",
        "## Resources created (default configuration)",
        "",
        "| Type | Count |",
        "| --- | --- |",
        *[f"| `{t}` | {n} |" for t, n in sorted(counts.items())],
        "",
        "## Events consumed",
        "",
        *consumed,
        "",
        "## Events emitted",
        "",
        *emitted,
        "",
        "## IAM granted",
        "",
    ]
    for role_id, statements in iam_grants(norm).items():
        lines.append(f"### `{role_id}`")
        lines.append("")
        for effect, actions, resources in statements:
            lines.append(f"- {effect} {', '.join(f'`{a}`' for a in actions)}")
            lines.append(f"  on {', '.join(f'`{r}`' for r in resources)}")
        lines.append("")
    lines += [
        "## Normalised template (default configuration)",
        "",
        f"Accounts {CENTRAL_ACCOUNT} (central) and {DOMAIN_ACCOUNT} (domain), region {REGION}; "
        "asset hashes and CDK metadata removed.",
        "",
        "```json",
        json.dumps(norm, indent=2, sort_keys=True),
        "```",
        "",
    ]
    return "\n".join(lines)


def render_pages(templates: dict[str, dict[str, Any]] | None = None) -> dict[str, str]:
    """File name -> page content."""
    templates = templates or synth_defaults()
    return {
        f"{construct}.md": render_page(construct, templates[stack])
        for construct, stack in PAGES.items()
    }


def write_pages(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in render_pages().items():
        path = directory / name
        path.write_text(content, encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m meshkit.constructs.docgen <directory>", file=sys.stderr)
        return 2
    for path in write_pages(Path(args[0])):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

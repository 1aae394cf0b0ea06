"""Quality gates on the synthesized templates: cdk-nag, cfn-lint, IAM wildcards, independence,
reference pages, example apps."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        docs = [props.get("PolicyDocument"), props.get("AssumeRolePolicyDocument")]
        docs += [p.get("PolicyDocument") for p in props.get("Policies", [])]
        if resource["Type"] == "AWS::Events::EventBusPolicy":
            docs.append({"Statement": [props["Statement"]]})
        found += [s for d in docs if d for s in d["Statement"]]
    return found


def _lint(paths: list[Path]) -> list[str]:
    """cfn-lint findings (errors and warnings alike) on the templates."""
    from cfnlint.api import ManualArgs, lint_file

    config = ManualArgs(regions=["eu-west-1"])
    return [f"{p.name}: {m}" for p in paths for m in lint_file(p, config=config)]


def test_nag_clean_on_both_constructs(templates: dict[str, dict[str, Any]]) -> None:
    # The fixture synthesized with AwsSolutionsChecks: reaching here means no finding is left
    # unacknowledged. Each acknowledgment carries a reason.
    from meshkit.constructs._nag import REASONS

    assert {"Central", "Domain", "Extra0", "Extra1"} <= set(templates)
    assert all(len(reason) > 60 for reason in REASONS.values())


def test_cfn_lint_clean(templates: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    paths = []
    for name, template in templates.items():
        path = tmp_path / f"{name}.template.json"
        path.write_text(json.dumps(template))
        paths.append(path)
    assert _lint(paths) == []


def test_no_action_wildcards(templates: dict[str, dict[str, Any]]) -> None:
    # Deny statements may name every action (the TLS-only guards do); grants may not.
    statements = [s for t in templates.values() for s in _statements(t) if s["Effect"] == "Allow"]
    assert statements
    for statement in statements:
        actions = statement.get("Action", [])
        for action in actions if isinstance(actions, list) else [actions]:
            assert action != "*", statement
            assert not action.endswith(":*"), statement


def test_central_template_independent_of_domains(templates: dict[str, dict[str, Any]]) -> None:
    from meshkit.constructs import docgen

    alone = docgen.synth_defaults(extra_domains=0)
    # Two more domains were synthesized beside the fixture's central: no difference.
    assert docgen.normalise(alone["Central"]) == docgen.normalise(templates["Central"])
    assert docgen.normalise(alone["Domain"]) == docgen.normalise(templates["Domain"])


def test_reference_pages_fresh(templates: dict[str, dict[str, Any]]) -> None:
    from meshkit.constructs import docgen

    pages = docgen.render_pages({k: templates[k] for k in docgen.PAGES.values()})
    for name, content in pages.items():
        path = ROOT / "constructs" / name
        assert path.exists(), f"{path} is missing: run make constructs"
        assert path.read_text(encoding="utf-8") == content, f"{path} is stale: run make constructs"


@pytest.mark.parametrize("example", ["central", "domain"])
def test_example_synthesizes_nag_and_lint_clean(example: str, tmp_path: Path) -> None:
    env = {**os.environ, "CDK_OUTDIR": str(tmp_path)}
    run = subprocess.run(
        [sys.executable, "app.py"],
        cwd=ROOT / "examples" / example,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    templates = sorted(tmp_path.glob("*.template.json"))
    assert templates
    assert _lint(templates) == []
    if example == "domain":
        template = json.loads(templates[0].read_text())
        text = json.dumps(template)
        assert "AccessGranted" in text  # the custom handler's rule
        mappings = [
            r
            for r in template["Resources"].values()
            if r["Type"] == "AWS::Lambda::EventSourceMapping"
        ]
        assert len(mappings) == 5  # four handler groups (the guard too) and the custom one
        # The team function (notify/app.py, a router): its code beside meshkit's, the
        # pydantic layer, and the MESHKIT_* environment with its own setting.
        [team] = [
            r["Properties"]
            for k, r in template["Resources"].items()
            if r["Type"] == "AWS::Lambda::Function" and k.startswith("NotifyFunction")
        ]
        assert team["Handler"] == "app.handler"
        asset = tmp_path / f"asset.{team['Code']['S3Key'].removesuffix('.zip')}"
        assert (asset / "app.py").is_file()
        assert (asset / "meshkit" / "runtime" / "router.py").is_file()
        assert [layer.split(":")[6] for layer in team["Layers"]] == [
            "AWSLambdaPowertoolsPythonV3-python313-arm64"
        ]
        variables = team["Environment"]["Variables"]
        assert variables["MESHKIT_ROLE"] == "domain"
        assert {"MESHKIT_DLQ_URL", "MESHKIT_IDEMPOTENCY_TABLE", "MESHKIT_BUS"} <= set(variables)
        assert "topic_arn" in json.dumps(variables["MESHKIT_SETTINGS"])
        # grant_request_access: PutEvents for AccessRequested only.
        assert '"events:detail-type": ["AccessRequested"]' in text
        assert '"events:source": ["meshkit.access"]' in text

"""The local mesh and the demo ignore the user's AWS shell configuration, and restore it."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

from meshkit.local.demo import main

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

SHELL = {
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9",
    "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:9",
    "AWS_PROFILE": "no-such-profile",
    "AWS_DEFAULT_PROFILE": "no-such-profile",
    "AWS_USE_FIPS_ENDPOINT": "true",
    "AWS_ACCESS_KEY_ID": "AKIAUSERSHELLKEY0000",
    "AWS_SECRET_ACCESS_KEY": "user-secret",
    "AWS_DEFAULT_REGION": "ap-southeast-2",
}


def test_demo_runs_with_a_hostile_aws_shell(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config"
    # A config whose default profile points every client at a dead endpoint.
    config.write_text("[default]\nendpoint_url = http://127.0.0.1:9\nregion = ap-southeast-2\n")
    env = {**SHELL, "AWS_CONFIG_FILE": str(config), "AWS_SHARED_CREDENTIALS_FILE": str(config)}
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    assert main(as_json=True) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] is True
    assert all(flow["ok"] for flow in out["flows"])
    # The user's shell is back exactly as it was.
    assert {name: os.environ.get(name) for name in env} == env

"""Each central handler group's role holds its own Glue, Lake Formation and RAM actions: those
its handlers' boto3 calls need (found in the code), and no other group's."""

from __future__ import annotations

import ast
import importlib.util
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from meshkit import topology
from meshkit.constructs import _iam

SRC = Path(__file__).resolve().parents[2] / "src"
#: The services this list governs; the registry, bus, key and secret come from CDK grants.
SERVICES = {"glue", "lakeformation", "ram", "s3", "ssm"}
#: The groups reading an SSM parameter of their own (central.permissions: the personas file),
#: granted on that parameter alone (central_group_statements' ``parameters``).
PARAMETER_READS = {"central.permissions": {"ssm:GetParameter"}}
#: IAM actions whose name is not the operation's.
AUTHORISED_AS = {"s3:HeadBucket": "s3:ListBucket"}
#: Granted without a call of the group's own: Lake Formation resolves a granted database or
#: table as the grantor (CENTRAL_GROUP_ACTIONS' comment).
GRANTOR_READS = {"glue:GetDatabase", "glue:GetTable"}
#: Onboarding's location statements, kept apart from the shared list (DataLocations).
LOCATIONS = {
    "lakeformation:RegisterResource",
    "lakeformation:DeregisterResource",
    "lakeformation:DescribeResource",
    "s3:ListBucket",
}


def _module_path(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    assert spec is not None
    assert spec.origin is not None
    return Path(spec.origin)


#: A function's findings: its parameters, its calls of other functions ("module:function" and
#: which of its own names it passes, by position or keyword), the client attributes it uses
#: by client name, and the routers its decorators name.
Found = tuple[
    list[str],
    list[tuple[str, dict[int | str, str]]],
    set[tuple[str, str]],
    set[str],
]

#: Client attributes that are no AWS operation.
_NOT_OPERATIONS = {"exceptions", "meta"}


@cache
def _functions(module: str) -> dict[str, Found]:
    """``name -> Found`` for every module-level function of ``module``."""
    tree = ast.parse(_module_path(module).read_text())
    modules: dict[str, str] = {}  # alias -> module
    names: dict[str, str] = {}  # imported function -> "module:function"
    # Imports anywhere in the module: the handlers import heavy helpers inside functions.
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("meshkit"):
            for alias in node.names:
                target = f"{node.module}.{alias.name}"
                if importlib.util.find_spec(node.module) and _is_module(target):
                    modules[alias.asname or alias.name] = target
                else:
                    names[alias.asname or alias.name] = f"{node.module}:{alias.name}"
    local = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    out: dict[str, Found] = {}
    for fn in tree.body:
        if not isinstance(fn, ast.FunctionDef):
            continue
        params = [a.arg for a in (*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs)]
        callees: list[tuple[str, dict[int | str, str]]] = []
        uses: set[tuple[str, str]] = set()
        for node in ast.walk(fn):
            if isinstance(node, ast.Assign):
                _bind_clients(node, uses)
        for node in ast.walk(fn):
            if isinstance(node, ast.Attribute) and node.attr not in _NOT_OPERATIONS:
                owner = node.value
                if isinstance(owner, ast.Name):
                    uses.add((owner.id, node.attr))
                elif (svc := _client_service(owner)) is not None:
                    uses.add((f"<{svc}>", node.attr))
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            ref = None
            if isinstance(f, ast.Name):
                ref = f"{module}:{f.id}" if f.id in local else names.get(f.id)
            elif (
                isinstance(f, ast.Attribute)
                and isinstance(f.value, ast.Name)
                and f.value.id in modules
            ):
                ref = f"{modules[f.value.id]}:{f.attr}"
            if ref is not None:
                passed: dict[int | str, str] = {}
                args = [(i, a) for i, a in enumerate(node.args)]
                args += [(k.arg, k.value) for k in node.keywords if k.arg]
                for where, arg in args:
                    if isinstance(arg, ast.Name):
                        passed[where] = arg.id
                    elif (svc := _client_service(arg)) is not None:
                        passed[where] = f"<{svc}>"
                callees.append((ref, passed))
        routers = {
            d.func.value.id
            for d in fn.decorator_list
            if isinstance(d, ast.Call)
            and isinstance(d.func, ast.Attribute)
            and d.func.attr == "on"
            and isinstance(d.func.value, ast.Name)
        }
        out[fn.name] = (params, callees, uses, routers)
    return out


def _bind_clients(node: ast.Assign, uses: set[tuple[str, str]]) -> None:
    """``x = ctx.client("glue")`` (and ``a, b = ctx.client(...), ctx.client(...)``) bind the
    name to its service: recorded as a use of the attribute ``<client>`` of the name."""
    for target in node.targets:
        pairs = (
            zip(target.elts, node.value.elts, strict=False)
            if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple)
            else [(target, node.value)]
        )
        for name, value in pairs:
            if isinstance(name, ast.Name) and (svc := _client_service(value)) is not None:
                uses.add((name.id, f"<client {svc}>"))


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def _client_service(node: ast.AST) -> str | None:
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "client"
        and node.args
        and isinstance(node.args[0], ast.Constant)
    ):
        return str(node.args[0].value)
    return None


def _camel(snake: str) -> str:
    return "".join(part.title() if part != "lf" else "LF" for part in snake.split("_"))


def _closure(
    ref: str, seen: set[tuple[str, frozenset[tuple[str, str]]]], bound: dict[str, str]
) -> set[str]:
    """The AWS calls of ``ref`` and what it calls, ``bound`` naming the clients it was passed
    (parameter -> service)."""
    key = (ref, frozenset(bound.items()))
    if key in seen:
        return set()
    seen.add(key)
    module, name = ref.split(":")
    if not module.startswith("meshkit"):
        return set()
    found = _functions(module).get(name)
    if found is None:
        return set()
    _, callees, uses, _ = found
    clients = dict(bound)
    for owner, attr in uses:
        if attr.startswith("<client "):
            clients[owner] = attr.removeprefix("<client ").removesuffix(">")
    out = set()
    for owner, attr in uses:
        svc = owner[1:-1] if owner.startswith("<") else clients.get(owner)
        if svc and not attr.startswith("<"):
            out.add(f"{svc}:{_camel(attr)}")
    for callee, passed in callees:
        c_module, c_name = callee.split(":")
        c_found = _functions(c_module).get(c_name) if c_module.startswith("meshkit") else None
        c_params = c_found[0] if c_found is not None else []
        given: dict[str, str] = {}
        for where, arg in passed.items():
            svc = arg[1:-1] if arg.startswith("<") else clients.get(arg)
            if svc is None:
                continue
            if isinstance(where, int) and where < len(c_params):
                given[c_params[where]] = svc
            elif isinstance(where, str):
                given[where] = svc
        out |= _closure(callee, seen, given)
    return out


def _router_vars(module: str) -> dict[str, str]:
    tree = ast.parse(_module_path(module).read_text())
    found = {}
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Name)
            and node.value.func.id == "EventRouter"
        ):
            (target,) = node.targets
            assert isinstance(target, ast.Name)
            found[target.id] = str(ast.literal_eval(node.value.args[0]))
    return found


def code_actions(group: topology.HandlerGroup) -> set[str]:
    """IAM actions of every Glue, Lake Formation, RAM and S3 call reachable from the group's
    handlers (``@router.on`` functions of its router's module)."""
    module, var = group.router.split(":")
    name = _router_vars(module)[var]
    assert name == group.name
    actions: set[str] = set()
    for fn, (_, _, _, routers) in _functions(module).items():
        if var in routers:
            actions |= _closure(f"{module}:{fn}", set(), {})
    mapped = {AUTHORISED_AS.get(a, a) for a in actions}
    return {a for a in mapped if a.split(":")[0] in SERVICES}


CENTRAL_GROUPS = [g for g in topology.GROUPS if g.role == "central"]


def _role_actions(template: dict[str, Any], group: str) -> set[str]:
    prefix = "Governance" + "".join(p.title() for p in re.split(r"[._]", group)) + "Role"
    policies = [
        r
        for k, r in template["Resources"].items()
        if r["Type"] == "AWS::IAM::Policy" and k.startswith(prefix)
    ]
    assert policies, prefix
    return {
        a
        for p in policies
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
        if a.split(":")[0] in SERVICES
    }


def test_every_central_group_has_its_own_list() -> None:
    assert {g.name for g in CENTRAL_GROUPS} == set(_iam.CENTRAL_GROUP_ACTIONS)


def test_the_code_finder_sees_the_calls() -> None:
    # A check on the finder itself: onboarding registers locations and creates databases.
    (onboarding,) = [g for g in CENTRAL_GROUPS if g.name == "central.onboarding"]
    assert {"lakeformation:RegisterResource", "glue:CreateDatabase", "s3:ListBucket"} <= (
        code_actions(onboarding)
    )
    # ... and follows clients passed as arguments (governance.engine -> state, apply), an
    # operation picked without a call (apply._run's batch_grant/batch_revoke), imports inside
    # functions, and a client's own exceptions are no operation.
    permissions = topology.group("central.permissions")
    found = code_actions(permissions)
    assert {
        "ssm:GetParameter",
        "glue:GetTables",
        "lakeformation:ListPermissions",
        "lakeformation:BatchGrantPermissions",
        "lakeformation:BatchRevokePermissions",
        "lakeformation:CreateDataCellsFilter",
    } <= found
    assert not {a for a in found if a.endswith(":Exceptions")}


@pytest.mark.parametrize("group", CENTRAL_GROUPS, ids=lambda g: g.name)
def test_list_is_what_the_code_calls(group: topology.HandlerGroup) -> None:
    listed = _iam.CENTRAL_GROUP_ACTIONS[group.name]
    declared = set(listed.glue) | set(listed.lakeformation)
    declared |= PARAMETER_READS.get(group.name, set())
    needed = code_actions(group) - LOCATIONS
    # every call allowed; nothing listed that the group's code never calls
    assert needed <= declared
    assert declared - needed <= GRANTOR_READS
    if group.name != "central.onboarding":
        assert not code_actions(group) & LOCATIONS


@pytest.mark.parametrize(
    "group", [g for g in CENTRAL_GROUPS if g.feature is None], ids=lambda g: g.name
)
def test_each_group_role_holds_its_list_only(
    central: dict[str, Any], group: topology.HandlerGroup
) -> None:
    listed = _iam.CENTRAL_GROUP_ACTIONS[group.name]
    actions = _role_actions(central, group.name)
    glue_lf = {a for a in actions if a.split(":")[0] in ("glue", "lakeformation")}
    expected = set(listed.glue) | set(listed.lakeformation)
    if group.name == "central.onboarding":
        expected |= LOCATIONS - {"s3:ListBucket"}
    if listed.cross_account_grants:
        expected |= {
            "glue:PutResourcePolicy",
            "glue:GetResourcePolicy",
            "glue:DeleteResourcePolicy",
        }
        assert "ram:CreateResourceShare" in actions
    else:
        assert not {a for a in actions if a.startswith("ram:")}
    assert glue_lf == expected
    assert code_actions(group) <= actions
    assert all("*" not in a for a in actions)

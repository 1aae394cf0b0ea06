"""A local Amazon DataZone: the part of its state machine meshkit's publication flow uses.

moto has no DataZone (a call would leave for the real endpoint), so the local mesh answers
DataZone calls here, through botocore hooks on the simulated accounts' sessions, as AWS would:

* domains, projects and environment profiles (set up with :meth:`create_domain`,
  :meth:`create_project`, :meth:`create_environment_profile`, as an administrator would);
* environments (``CREATING`` -> ``ACTIVE``), Glue data sources (``CREATING`` -> ``READY``) and
  their runs (``REQUESTED`` -> ``SUCCESS``/``FAILED``), which read the Glue catalog of the
  environment's account and create or revise one asset per table, listed at once when the data
  source publishes on import; listings withdrawn by an ``UNPUBLISH`` change set;
* subscription requests (``PENDING`` -> ``ACCEPTED``/``REJECTED``) and subscriptions
  (``APPROVED`` -> ``REVOKED``).

Each asynchronous step completes in :meth:`run_pending` (the local mesh calls it between
delivery rounds, as it runs pending crawls) and emits DataZone's own event on the DataZone
account's default bus. Requests are checked against the service model for what botocore's
client leaves out (maximum lengths, list sizes, enums and patterns), and every answer is checked
against the operation's output shape the way botocore's ``Stubber`` checks a stubbed response,
so a handler that works here sends and parses only what the real API accepts and returns.
"""

from __future__ import annotations

import copy
import fnmatch
import hashlib
import itertools
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

import botocore.session
from botocore.validate import ParamValidator

from meshkit.local.lake._aws import LakeClientError, answer, fail

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    import boto3

__all__ = ["DataZoneSimulation", "model_problems"]

_PARAMS = "meshkit.datazone.params"
_SOURCE = "aws.datazone"


def model_problems(shape: Any, value: Any, path: str = "") -> list[str]:
    """What the service model forbids in ``value`` beyond what botocore's client checks.

    botocore validates required members, types, minimum lengths and unions; AWS also refuses
    values over the maximum length or list size, outside an enum, or not matching a pattern.
    """
    problems: list[str] = []
    where = path or shape.name
    kind = shape.type_name
    if value is None:
        return problems
    if kind == "structure" and isinstance(value, dict):
        for name, member in shape.members.items():
            if name in value:
                problems += model_problems(member, value[name], f"{where}.{name}")
    elif kind == "list" and isinstance(value, list):
        limit = shape.metadata.get("max")
        if limit is not None and len(value) > limit:
            problems.append(f"{where}: {len(value)} items, at most {limit} allowed")
        for i, item in enumerate(value):
            problems += model_problems(shape.member, item, f"{where}[{i}]")
    elif kind == "map" and isinstance(value, dict):
        for key, item in value.items():
            problems += model_problems(shape.value, item, f"{where}.{key}")
    elif kind == "string" and isinstance(value, str):
        limit = shape.metadata.get("max")
        if limit is not None and len(value) > limit:
            problems.append(f"{where}: {len(value)} characters, at most {limit} allowed")
        if shape.enum and value not in shape.enum:
            problems.append(f"{where}: {value!r} is not one of {shape.enum}")
        pattern = shape.metadata.get("pattern")
        if pattern and not re.fullmatch(pattern.removeprefix("^").removesuffix("$"), value, re.S):
            problems.append(f"{where}: {value!r} does not match the pattern {pattern}")
    return problems


@dataclass
class _Entity:
    id: str
    created: datetime
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Domain:
    id: str
    name: str
    account: str
    projects: dict[str, _Entity] = field(default_factory=dict)
    profiles: dict[str, _Entity] = field(default_factory=dict)
    environments: dict[str, _Entity] = field(default_factory=dict)
    sources: dict[str, _Entity] = field(default_factory=dict)
    runs: dict[str, _Entity] = field(default_factory=dict)
    assets: dict[str, _Entity] = field(default_factory=dict)
    listings: dict[str, _Entity] = field(default_factory=dict)
    requests: dict[str, _Entity] = field(default_factory=dict)
    subscriptions: dict[str, _Entity] = field(default_factory=dict)
    grants: dict[str, _Entity] = field(default_factory=dict)


class DataZoneSimulation:
    """DataZone for the local mesh (see the module docstring for what is modelled).

    ``emit_aws_event(account, source, detail_type, detail, resources)`` puts DataZone's events
    on the DataZone account's default bus; ``glue_tables(account, database)`` lists a Glue
    database's tables (``None`` when the database does not exist) for data source runs.
    """

    def __init__(
        self,
        *,
        region: str,
        emit_aws_event: Callable[[str, str, str, dict[str, Any], list[str]], Any],
        glue_tables: Callable[[str, str], list[dict[str, Any]] | None],
        clock: Callable[[], datetime],
    ) -> None:
        self.region = region
        self._emit = emit_aws_event
        self._glue_tables = glue_tables
        self._clock = clock
        self._domains: dict[str, _Domain] = {}
        self._ids = itertools.count(1)
        self._pending: list[Callable[[], None]] = []
        model_session = botocore.session.get_session()
        self.model = model_session.get_service_model("datazone")
        self._validator = ParamValidator()
        #: Every call answered: (operation, request parameters, parsed answer), in order.
        self.calls: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
        #: A failure to inject into the next data source run, as DataZone reports it.
        self.fail_next_run: tuple[str, str] | None = None
        #: Make the next environment deployment fail (``Environment Deployment Failed``).
        self.fail_next_environment = False
        #: Detail types of DataZone events to lose (each once): DataZone's events are best
        #: effort, and the publication reconcile must recover without them.
        self.lose_events: list[str] = []
        #: The events lost so far, by detail type.
        self.lost_events: list[str] = []

    # -- administrator set-up --------------------------------------------------------------
    def create_domain(self, account: str, name: str) -> str:
        domain_id = f"dzd_{self._new_id()}"
        self._domains[domain_id] = _Domain(domain_id, name, account)
        return domain_id

    def create_project(self, domain_id: str, name: str) -> str:
        dom = self._domain(domain_id)
        project_id = self._new_id()
        dom.projects[project_id] = _Entity(project_id, self._now(), {"name": name})
        return project_id

    def create_environment_profile(self, domain_id: str, name: str, account: str) -> str:
        dom = self._domain(domain_id)
        profile_id = self._new_id()
        dom.profiles[profile_id] = _Entity(
            profile_id, self._now(), {"name": name, "account": account}
        )
        return profile_id

    def project_id(self, domain_id: str, name: str) -> str:
        for project in self._domain(domain_id).projects.values():
            if project.data["name"] == name:
                return project.id
        raise KeyError(f"no project {name!r} in {domain_id}")

    # -- what tests read -------------------------------------------------------------------
    def listings(self, domain_id: str, *, status: str | None = "ACTIVE") -> list[dict[str, Any]]:
        """The catalog as a subscriber sees it: name, listing id, asset id, status."""
        dom = self._domain(domain_id)
        out = []
        for listing in dom.listings.values():
            if status is None or listing.data["status"] == status:
                asset = dom.assets[listing.data["asset"]]
                out.append(
                    {
                        "listing_id": listing.id,
                        "asset_id": asset.id,
                        "name": asset.data["name"],
                        "database": asset.data["database"],
                        "revision": asset.data["revision"],
                        "columns": asset.data["columns"],
                        "status": listing.data["status"],
                        "glossary_terms": asset.data.get("glossaryTerms", []),
                        "description": asset.data.get("description"),
                        "listed_revision": listing.data["revision"],
                    }
                )
        return sorted(out, key=lambda x: x["name"])

    def subscription_request(self, domain_id: str, request_id: str) -> dict[str, Any]:
        return dict(self._domain(domain_id).requests[request_id].data)

    def subscriptions(self, domain_id: str) -> list[dict[str, Any]]:
        return [{"id": s.id, **s.data} for s in self._domain(domain_id).subscriptions.values()]

    def environments(self, domain_id: str) -> list[dict[str, Any]]:
        return [{"id": e.id, **e.data} for e in self._domain(domain_id).environments.values()]

    def runs(self, domain_id: str) -> list[dict[str, Any]]:
        return [{"id": r.id, **r.data} for r in self._domain(domain_id).runs.values()]

    # -- hooks -----------------------------------------------------------------------------
    def attach(self, account_id: str, session: boto3.session.Session) -> None:
        """Answer this account's DataZone calls (register before clients are created)."""
        events = session.events
        tag = f"meshkit-datazone-{id(self)}-{account_id}"
        events.register("before-parameter-build.datazone", _stash, unique_id=f"{tag}-stash")
        events.register(
            "before-call.datazone",
            partial(self._before_call, account_id),
            unique_id=f"{tag}-before",
        )

    def run_pending(self) -> int:
        """Complete the asynchronous steps started so far; returns how many completed."""
        done = 0
        while self._pending:
            step = self._pending.pop(0)
            step()
            done += 1
        return done

    def _before_call(self, account: str, model: Any, context: dict[str, Any], **_: Any) -> Any:
        params: dict[str, Any] = context.get(_PARAMS, {})
        op = model.name
        problems = model_problems(model.input_shape, params)
        if problems:
            return fail(LakeClientError("ValidationException", "; ".join(problems)))
        handler = getattr(self, f"_op_{_snake(op)}", None)
        if handler is None:
            return fail(
                LakeClientError(
                    "ValidationException",
                    f"DataZone {op} is not simulated by meshkit.local.datazone",
                )
            )
        try:
            parsed = handler(account, params)
        except LakeClientError as exc:
            return fail(exc)
        report = self._validator.validate(parsed, model.output_shape)
        if report.has_errors():
            raise AssertionError(
                f"simulated {op} answer breaks the model: {report.generate_report()}"
            )
        self.calls.append((op, copy.deepcopy(params), copy.deepcopy(parsed)))
        return answer(parsed)

    # -- plumbing --------------------------------------------------------------------------
    def _new_id(self) -> str:
        return hashlib.sha256(f"{id(self)}-{next(self._ids)}".encode()).hexdigest()[:14]

    def _now(self) -> datetime:
        now = self._clock()
        return now if now.tzinfo else now.replace(tzinfo=UTC)

    def _domain(self, domain_id: str, account: str | None = None) -> _Domain:
        dom = self._domains.get(domain_id)
        if dom is None or (account is not None and dom.account != account):
            raise LakeClientError("ResourceNotFoundException", f"Domain {domain_id} not found", 404)
        return dom

    @staticmethod
    def _get(table: dict[str, _Entity], ident: str, what: str) -> _Entity:
        entity = table.get(ident)
        if entity is None:
            raise LakeClientError("ResourceNotFoundException", f"{what} {ident} not found", 404)
        return entity

    def _event(self, dom: _Domain, detail_type: str, entity: str, data: dict[str, Any]) -> None:
        detail = {
            "version": "0",
            "metadata": {
                "id": entity,
                "domain": dom.id,
                "owningProjectId": data.get("projectId"),
                "version": "1",
                "typeName": detail_type.replace(" ", ""),
            },
            "data": data,
        }
        if detail_type in self.lose_events:
            self.lose_events.remove(detail_type)
            self.lost_events.append(detail_type)
            return
        self._emit(dom.account, _SOURCE, detail_type, detail, [])

    # -- projects --------------------------------------------------------------------------
    def _project_out(self, dom: _Domain, p: _Entity) -> dict[str, Any]:
        return {
            "domainId": dom.id,
            "id": p.id,
            "name": p.data["name"],
            "createdBy": "meshkit-local",
            "createdAt": p.created,
            "projectStatus": "ACTIVE",
        }

    def _op_get_project(self, account: str, params: Mapping[str, Any]) -> dict[str, Any]:
        dom = self._domain(params["domainIdentifier"], account)
        project = self._get(dom.projects, params["identifier"], "Project")
        return self._project_out(dom, project)

    def _op_list_projects(self, account: str, params: Mapping[str, Any]) -> dict[str, Any]:
        dom = self._domain(params["domainIdentifier"], account)
        name = params.get("name")
        items = [
            self._project_out(dom, p)
            for p in dom.projects.values()
            if name is None or p.data["name"] == name
        ]
        return {"items": items}

    # -- environments ----------------------------------------------------------------------
    def _environment_out(self, dom: _Domain, env: _Entity) -> dict[str, Any]:
        return {
            "projectId": env.data["projectId"],
            "id": env.id,
            "domainId": dom.id,
            "createdBy": "meshkit-local",
            "createdAt": env.created,
            "name": env.data["name"],
            "environmentProfileId": env.data["profile"],
            "awsAccountId": env.data["account"],
            "awsAccountRegion": self.region,
            "provider": "Amazon DataZone",
            "status": env.data["status"],
        }

    def _op_list_environments(self, account: str, params: Mapping[str, Any]) -> dict[str, Any]:
        dom = self._domain(params["domainIdentifier"], account)
        self._get(dom.projects, params["projectIdentifier"], "Project")
        items = [
            self._environment_out(dom, e)
            for e in dom.environments.values()
            if e.data["projectId"] == params["projectIdentifier"]
            and params.get("name") in (None, e.data["name"])
        ]
        return {"items": items}

    def _op_get_environment(self, account: str, params: Mapping[str, Any]) -> dict[str, Any]:
        dom = self._domain(params["domainIdentifier"], account)
        env = self._get(dom.environments, params["identifier"], "Environment")
        return self._environment_out(dom, env)

    def _op_create_environment(self, account: str, params: Mapping[str, Any]) -> dict[str, Any]:
        dom = self._domain(params["domainIdentifier"], account)
        project = self._get(dom.projects, params["projectIdentifier"], "Project")
        profile_id = params.get("environmentProfileIdentifier")
        if not profile_id:
            raise LakeClientError(
                "ValidationException", "environmentProfileIdentifier is required in a V1 domain"
            )
        profile = self._get(dom.profiles, profile_id, "Environment profile")
        for env in dom.environments.values():
            if env.data["projectId"] == project.id and env.data["name"] == params["name"]:
                raise LakeClientError(
                    "ConflictException", f"environment {params['name']!r} already exists", 409
                )
        env = _Entity(
            self._new_id(),
            self._now(),
            {
                "projectId": project.id,
                "name": params["name"],
                "profile": profile.id,
                "account": profile.data["account"],
                "status": "CREATING",
            },
        )
        dom.environments[env.id] = env

        fails, self.fail_next_environment = self.fail_next_environment, False

        def deployed() -> None:
            status = "CREATE_FAILED" if fails else "ACTIVE"
            env.data["status"] = status
            self._event(
                dom,
                "Environment Deployment Failed" if fails else "Environment Deployment Completed",
                env.id,
                {"environmentId": env.id, "projectId": project.id, "status": status},
            )

        self._pending.append(deployed)
        return self._environment_out(dom, env)

    # -- data sources and runs -------------------------------------------------------------
    def _source_out(self, dom: _Domain, src: _Entity, *, summary: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "domainId": dom.id,
            "name": src.data["name"],
            "type": "GLUE",
            "status": src.data["status"],
            "environmentId": src.data["environmentId"],
            "enableSetting": src.data["enableSetting"],
            "createdAt": src.created,
        }
        if summary:
            out["dataSourceId"] = src.id
        else:
            out.update(
                id=src.id,
                projectId=src.data["projectId"],
                configuration=copy.deepcopy(src.data["configuration"]),
                publishOnImport=src.data["publishOnImport"],
            )
            if src.data.get("description"):
                out["description"] = src.data["description"]
        return out

    def _op_list_data_sources(self, account: str, params: Mapping[str, Any]) -> dict[str, Any]:
        dom = self._domain(params["domainIdentifier"], account)
        items = [
            self._source_out(dom, s, summary=True)
            for s in dom.sources.values()
            if s.data["projectId"] == params["projectIdentifier"]
            and params.get("name") in (None, s.data["name"])
        ]
        return {"items": items}

    def _op_get_data_source(self, account: str, params: Mapping[str, Any]) -> dict[str, Any]:
        dom = self._domain(params["domainIdentifier"], account)
        return self._source_out(
            dom, self._get(dom.sources, params["identifier"], "Data source"), summary=False
        )

    def _op_create_data_source(self, account: str, params: Mapping[str, Any]) -> dict[str, Any]:
        dom = self._domain(params["domainIdentifier"], account)
        project = self._get(dom.projects, params["projectIdentifier"], "Project")
        env_id = params.get("environmentIdentifier")
        env = self._get(dom.environments, env_id or "", "Environment")
        if env.data["status"] != "ACTIVE":
            raise LakeClientError(
                "ConflictException", f"environment {env.id} is {env.data['status']}", 409
            )
        if params["type"] != "GLUE":
            raise LakeClientError("ValidationException", "the simulation knows GLUE sources only")
        glue = (params.get("configuration") or {}).get("glueRunConfiguration")
        if not glue or not glue.get("relationalFilterConfigurations"):
            raise LakeClientError(
                "ValidationException",
                "glueRunConfiguration.relationalFilterConfigurations is required",
            )
        for src in dom.sources.values():
            if src.data["projectId"] == project.id and src.data["name"] == params["name"]:
                raise LakeClientError(
                    "ConflictException", f"data source {params['name']!r} already exists", 409
                )
        src = _Entity(
            self._new_id(),
            self._now(),
            {
                "projectId": project.id,
                "environmentId": env.id,
                "account": env.data["account"],
                "name": params["name"],
                "description": params.get("description"),
                "configuration": copy.deepcopy(params["configuration"]),
                "publishOnImport": bool(params.get("publishOnImport", False)),
                "enableSetting": params.get("enableSetting", "ENABLED"),
                "status": "CREATING",
            },
        )
        dom.sources[src.id] = src

        def created() -> None:
            src.data["status"] = "READY"
            self._event(
                dom,
                "Data Source Created",
                src.id,
                {"dataSourceId": src.id, "projectId": project.id},
            )

        self._pending.append(created)
        return self._source_out(dom, src, summary=False)

    def _op_update_data_source(self, account: str, params: Mapping[str, Any]) -> dict[str, Any]:
        dom = self._domain(params["domainIdentifier"], account)
        src = self._get(dom.sources, params["identifier"], "Data source")
        if "configuration" in params:
            src.data["configuration"] = copy.deepcopy(params["configuration"])
        if "enableSetting" in params:
            src.data["enableSetting"] = params["enableSetting"]
        return self._source_out(dom, src, summary=False)

    def _run_out(self, dom: _Domain, run: _Entity) -> dict[str, Any]:
        out: dict[str, Any] = {
            "domainId": dom.id,
            "dataSourceId": run.data["source"],
            "id": run.id,
            "projectId": run.data["projectId"],
            "status": run.data["status"],
            "type": "PRIORITIZED",
            "createdAt": run.created,
            "updatedAt": run.data.get("updatedAt", run.created),
        }
        if "stats" in run.data:
            out["runStatisticsForAssets"] = dict(run.data["stats"])
        if "error" in run.data:
            out["errorMessage"] = dict(run.data["error"])
        return out

    def _op_start_data_source_run(self, account: str, params: Mapping[str, Any]) -> dict[str, Any]:
        dom = self._domain(params["domainIdentifier"], account)
        src = self._get(dom.sources, params["dataSourceIdentifier"], "Data source")
        if src.data["status"] != "READY":
            raise LakeClientError(
                "ConflictException", f"data source {src.id} is {src.data['status']}", 409
            )
        if src.data["enableSetting"] != "ENABLED":
            raise LakeClientError("ValidationException", f"data source {src.id} is disabled")
        run = _Entity(
            self._new_id(),
            self._now(),
            {
                "source": src.id,
                "projectId": src.data["projectId"],
                "status": "REQUESTED",
                "activities": [],
            },
        )
        dom.runs[run.id] = run
        src.data["status"] = "RUNNING"
        self._pending.append(partial(self._execute_run, dom, src, run))
        return self._run_out(dom, run)

    def _execute_run(self, dom: _Domain, src: _Entity, run: _Entity) -> None:
        src.data["status"] = "READY"
        run.data["updatedAt"] = self._now()
        injected, self.fail_next_run = self.fail_next_run, None
        stats = {"added": 0, "updated": 0, "unchanged": 0, "skipped": 0, "failed": 0}
        error: dict[str, str] | None = None
        if injected is not None:
            error = {"errorType": injected[0], "errorDetail": injected[1]}
        else:
            for config in src.data["configuration"]["glueRunConfiguration"][
                "relationalFilterConfigurations"
            ]:
                database = config["databaseName"]
                tables = self._glue_tables(src.data["account"], database)
                if tables is None:
                    error = {
                        "errorType": "RESOURCE_NOT_FOUND_EXCEPTION",
                        "errorDetail": f"Glue database {database} not found",
                    }
                    break
                for table in tables:
                    if _selected(table["Name"], config.get("filterExpressions", [])):
                        stats[self._import(dom, src, run, database, table)] += 1
        if error is not None:
            run.data.update(status="FAILED", error=error, stats=stats)
            self._event(
                dom,
                "Data Source Run Failed",
                run.id,
                {
                    "dataSourceId": src.id,
                    "dataSourceRunId": run.id,
                    "projectId": src.data["projectId"],
                    "status": "FAILED",
                    "errorMessage": error,
                },
            )
            return
        run.data.update(status="SUCCESS", stats=stats)
        self._event(
            dom,
            "Data Source Run Succeeded",
            run.id,
            {
                "dataSourceId": src.id,
                "dataSourceRunId": run.id,
                "projectId": src.data["projectId"],
                "status": "SUCCESS",
                "runStatisticsForAssets": stats,
            },
        )

    def _import(
        self, dom: _Domain, src: _Entity, run: _Entity, database: str, table: dict[str, Any]
    ) -> str:
        sd = table.get("StorageDescriptor", {})
        columns = [
            {"name": c["Name"], "type": c.get("Type", "")}
            for c in [*sd.get("Columns", []), *table.get("PartitionKeys", [])]
        ]
        asset = next(
            (
                a
                for a in dom.assets.values()
                if a.data["source"] == src.id
                and a.data["database"] == database
                and a.data["name"] == table["Name"]
            ),
            None,
        )
        if asset is None:
            asset = _Entity(
                self._new_id(),
                self._now(),
                {
                    "source": src.id,
                    "database": database,
                    "name": table["Name"],
                    "columns": columns,
                    "revision": 1,
                    "projectId": src.data["projectId"],
                },
            )
            dom.assets[asset.id] = asset
            outcome, status = "added", "SUCCEEDED_CREATED"
        elif asset.data["columns"] != columns:
            asset.data.update(columns=columns, revision=asset.data["revision"] + 1)
            outcome, status = "updated", "SUCCEEDED_UPDATED"
        else:
            outcome, status = "unchanged", "UNCHANGED"
        if (src.data["publishOnImport"] and outcome != "unchanged") or (
            src.data["publishOnImport"] and self._listing_of(dom, asset.id) is None
        ):
            self._publish(dom, asset)
        run.data["activities"].append(
            {
                "database": database,
                "dataSourceRunId": run.id,
                "technicalName": table["Name"],
                "dataAssetStatus": status,
                "projectId": src.data["projectId"],
                "dataAssetId": asset.id,
                "createdAt": self._now(),
                "updatedAt": self._now(),
            }
        )
        return outcome

    def _listing_of(self, dom: _Domain, asset_id: str) -> _Entity | None:
        return next((x for x in dom.listings.values() if x.data["asset"] == asset_id), None)

    def _publish(self, dom: _Domain, asset: _Entity) -> _Entity:
        listing = self._listing_of(dom, asset.id)
        if listing is None:
            listing = _Entity(self._new_id(), self._now(), {"asset": asset.id})
            dom.listings[listing.id] = listing
        listing.data.update(status="ACTIVE", revision=str(asset.data["revision"]))
        return listing

    def _op_get_data_source_run(self, account: str, params: Mapping[str, Any]) -> dict[str, Any]:
        dom = self._domain(params["domainIdentifier"], account)
        return self._run_out(dom, self._get(dom.runs, params["identifier"], "Data source run"))

    def _op_list_data_source_run_activities(
        self, account: str, params: Mapping[str, Any]
    ) -> dict[str, Any]:
        dom = self._domain(params["domainIdentifier"], account)
        run = self._get(dom.runs, params["identifier"], "Data source run")
        items = [
            dict(a)
            for a in run.data["activities"]
            if params.get("status") in (None, a["dataAssetStatus"])
        ]
        size = int(params.get("maxResults", 50))
        start = int(params.get("nextToken", "0") or 0)
        page = items[start : start + size]
        out: dict[str, Any] = {"items": page}
        if start + size < len(items):
            out["nextToken"] = str(start + size)
        return out

    # -- listings --------------------------------------------------------------------------
    def _op_create_listing_change_set(
        self, account: str, params: Mapping[str, Any]
    ) -> dict[str, Any]:
        dom = self._domain(params["domainIdentifier"], account)
        if params["entityType"] != "ASSET":
            raise LakeClientError("ValidationException", "the simulation lists assets only")
        asset = self._get(dom.assets, params["entityIdentifier"], "Asset")
        if params["action"] == "PUBLISH":
            listing = self._publish(dom, asset)
        else:
            listing = self._listing_of(dom, asset.id) or _Entity(
                self._new_id(), self._now(), {"asset": asset.id, "revision": "1"}
            )
            dom.listings[listing.id] = listing
            listing.data["status"] = "INACTIVE"
        return {
            "listingId": listing.id,
            "listingRevision": listing.data["revision"],
            "status": listing.data["status"],
        }

    def _op_create_asset_revision(self, account: str, params: Mapping[str, Any]) -> dict[str, Any]:
        dom = self._domain(params["domainIdentifier"], account)
        asset = self._get(dom.assets, params["identifier"], "Asset")
        if params["name"] != asset.data["name"]:
            asset.data["name"] = params["name"]
        if "glossaryTerms" in params:
            asset.data["glossaryTerms"] = list(params["glossaryTerms"])
        if "description" in params:
            asset.data["description"] = params["description"]
        asset.data["revision"] += 1
        return {
            "id": asset.id,
            "name": asset.data["name"],
            "typeIdentifier": "amazon.datazone.GlueTableAssetType",
            "typeRevision": "1",
            "revision": str(asset.data["revision"]),
            "owningProjectId": asset.data["projectId"],
            "domainId": dom.id,
            "formsOutput": [],
            "createdAt": self._now(),
            **(
                {"glossaryTerms": asset.data["glossaryTerms"]}
                if "glossaryTerms" in asset.data
                else {}
            ),
            **({"description": asset.data["description"]} if "description" in asset.data else {}),
        }

    def _op_search_listings(self, account: str, params: Mapping[str, Any]) -> dict[str, Any]:
        dom = self._domain(params["domainIdentifier"], account)
        text = str(params.get("searchText") or "").lower()
        items = []
        for listing in dom.listings.values():
            asset = dom.assets[listing.data["asset"]]
            if listing.data["status"] != "ACTIVE" or text not in asset.data["name"].lower():
                continue
            items.append(
                {
                    "assetListing": {
                        "listingId": listing.id,
                        "listingRevision": listing.data["revision"],
                        "name": asset.data["name"],
                        "entityId": asset.id,
                        "entityRevision": str(asset.data["revision"]),
                        "entityType": "GlueTableAssetType",
                        "owningProjectId": asset.data["projectId"],
                        "createdAt": listing.created,
                    }
                }
            )
        return {"items": items, "totalMatchCount": len(items)}

    # -- subscriptions ---------------------------------------------------------------------
    def _request_out(self, dom: _Domain, req: _Entity) -> dict[str, Any]:
        listing = dom.listings[req.data["listing"]]
        asset = dom.assets[listing.data["asset"]]
        project = dom.projects[req.data["project"]]
        out: dict[str, Any] = {
            "id": req.id,
            "createdBy": "meshkit-local",
            "domainId": dom.id,
            "status": req.data["status"],
            "createdAt": req.created,
            "updatedAt": req.data.get("updatedAt", req.created),
            "requestReason": req.data["reason"],
            "subscribedPrincipals": [{"project": {"id": project.id, "name": project.data["name"]}}],
            "subscribedListings": [
                {
                    "id": listing.id,
                    "revision": listing.data["revision"],
                    "name": asset.data["name"],
                    "description": "",
                    "item": {
                        "assetListing": {
                            "entityId": asset.id,
                            "entityRevision": str(asset.data["revision"]),
                            "entityType": "GlueTableAssetType",
                            "forms": json.dumps(
                                {
                                    "GlueTableForm": {
                                        "tableName": asset.data["name"],
                                        "databaseName": asset.data["database"],
                                    }
                                }
                            ),
                        }
                    },
                    "ownerProjectId": asset.data["projectId"],
                }
            ],
        }
        if req.data.get("comment"):
            out["decisionComment"] = req.data["comment"]
        return out

    def _op_create_subscription_request(
        self, account: str, params: Mapping[str, Any]
    ) -> dict[str, Any]:
        dom = self._domain(params["domainIdentifier"], account)
        principals, listings = params["subscribedPrincipals"], params["subscribedListings"]
        if len(principals) != 1 or len(listings) != 1:
            raise LakeClientError(
                "ValidationException",
                "exactly one subscribed principal and one subscribed listing are required",
            )
        project_id = (principals[0].get("project") or {}).get("identifier")
        if not project_id:
            raise LakeClientError("ValidationException", "the simulation subscribes projects only")
        self._get(dom.projects, project_id, "Project")
        listing = self._get(dom.listings, listings[0]["identifier"], "Listing")
        if listing.data["status"] != "ACTIVE":
            raise LakeClientError("ValidationException", f"listing {listing.id} is not active")
        if not 1 <= len(params["requestReason"]) <= 4096:
            raise LakeClientError("ValidationException", "requestReason must be 1-4096 characters")
        req = _Entity(
            self._new_id(),
            self._now(),
            {
                "listing": listing.id,
                "project": project_id,
                "reason": params["requestReason"],
                "status": "PENDING",
            },
        )
        dom.requests[req.id] = req
        self._pending.append(
            partial(
                self._event,
                dom,
                "Subscription Request Created",
                req.id,
                {
                    "subscriptionRequestId": req.id,
                    "requesterId": "meshkit-local",
                    "subscribedListings": [{"id": listing.id, "version": listing.data["revision"]}],
                    "subscribedPrincipals": [{"type": "PROJECT", "id": project_id}],
                },
            )
        )
        return self._request_out(dom, req)

    def _op_get_subscription_request_details(
        self, account: str, params: Mapping[str, Any]
    ) -> dict[str, Any]:
        dom = self._domain(params["domainIdentifier"], account)
        return self._request_out(dom, self._get(dom.requests, params["identifier"], "Request"))

    def _decide(self, account: str, params: Mapping[str, Any], status: str) -> dict[str, Any]:
        dom = self._domain(params["domainIdentifier"], account)
        req = self._get(dom.requests, params["identifier"], "Subscription request")
        if req.data["status"] != "PENDING":
            raise LakeClientError(
                "ConflictException", f"subscription request {req.id} is {req.data['status']}", 409
            )
        req.data.update(status=status, updatedAt=self._now(), comment=params.get("decisionComment"))
        if status == "ACCEPTED":
            sub = _Entity(self._new_id(), self._now(), {"request": req.id, "status": "APPROVED"})
            dom.subscriptions[sub.id] = sub
            # The subscribing project's target gets a grant to fulfil: meshkit's assets are
            # not DataZone-managed, so the publisher reports the grant's outcome.
            listing = dom.listings[req.data["listing"]]
            grant = _Entity(
                self._new_id(),
                self._now(),
                {
                    "subscription": sub.id,
                    "listing": listing.id,
                    "listingRevision": listing.data["revision"],
                    "assets": [
                        {
                            "assetId": listing.data["asset"],
                            "assetRevision": listing.data["revision"],
                            "status": "GRANT_PENDING",
                        }
                    ],
                },
            )
            dom.grants[grant.id] = grant
        return self._request_out(dom, req)

    def _grant_out(self, dom: _Domain, grant: _Entity) -> dict[str, Any]:
        statuses = {a["status"] for a in grant.data["assets"]}
        if statuses <= {"GRANTED"}:
            status = "COMPLETED"
        elif "GRANT_FAILED" in statuses:
            status = "GRANT_FAILED"
        elif statuses <= {"REVOKED"}:
            status = "COMPLETED"
        else:
            status = "IN_PROGRESS"
        return {
            "id": grant.id,
            "createdBy": "meshkit-local",
            "domainId": dom.id,
            "createdAt": grant.created,
            "updatedAt": grant.data.get("updatedAt", grant.created),
            "subscriptionTargetId": "meshkit-target",
            "grantedEntity": {
                "listing": {"id": grant.data["listing"], "revision": grant.data["listingRevision"]}
            },
            "status": status,
            "assets": [dict(a) for a in grant.data["assets"]],
            "subscriptionId": grant.data["subscription"],
        }

    def _op_list_subscription_grants(
        self, account: str, params: Mapping[str, Any]
    ) -> dict[str, Any]:
        dom = self._domain(params["domainIdentifier"], account)
        wanted = params.get("subscriptionId")
        items = [
            self._grant_out(dom, g)
            for g in dom.grants.values()
            if wanted in (None, g.data["subscription"])
        ]
        return {"items": items}

    def _op_update_subscription_grant_status(
        self, account: str, params: Mapping[str, Any]
    ) -> dict[str, Any]:
        dom = self._domain(params["domainIdentifier"], account)
        grant = self._get(dom.grants, params["identifier"], "Subscription grant")
        asset = next(
            (a for a in grant.data["assets"] if a["assetId"] == params["assetIdentifier"]), None
        )
        if asset is None:
            raise LakeClientError(
                "ResourceNotFoundException",
                f"asset {params['assetIdentifier']} is not part of grant {grant.id}",
                404,
            )
        asset["status"] = params["status"]
        if params["status"] == "GRANTED":
            asset["grantedTimestamp"] = self._now()
        if params.get("failureCause"):
            asset["failureCause"] = dict(params["failureCause"])
            asset["failureTimestamp"] = self._now()
        grant.data["updatedAt"] = self._now()
        return self._grant_out(dom, grant)

    def grants(self, domain_id: str) -> list[dict[str, Any]]:
        """Subscription grants: their status and their assets' statuses."""
        dom = self._domain(domain_id)
        return [self._grant_out(dom, g) for g in dom.grants.values()]

    def _op_accept_subscription_request(
        self, account: str, params: Mapping[str, Any]
    ) -> dict[str, Any]:
        return self._decide(account, params, "ACCEPTED")

    def _op_reject_subscription_request(
        self, account: str, params: Mapping[str, Any]
    ) -> dict[str, Any]:
        return self._decide(account, params, "REJECTED")

    def _subscription_out(self, dom: _Domain, sub: _Entity) -> dict[str, Any]:
        req = self._request_out(dom, dom.requests[sub.data["request"]])
        return {
            "id": sub.id,
            "createdBy": "meshkit-local",
            "domainId": dom.id,
            "status": sub.data["status"],
            "createdAt": sub.created,
            "updatedAt": sub.data.get("updatedAt", sub.created),
            "subscribedPrincipal": req["subscribedPrincipals"][0],
            "subscribedListing": req["subscribedListings"][0],
            "subscriptionRequestId": req["id"],
        }

    def _op_list_subscriptions(self, account: str, params: Mapping[str, Any]) -> dict[str, Any]:
        dom = self._domain(params["domainIdentifier"], account)
        wanted = params.get("subscriptionRequestIdentifier")
        items = [
            self._subscription_out(dom, s)
            for s in dom.subscriptions.values()
            if wanted in (None, s.data["request"])
            and params.get("status") in (None, s.data["status"])
        ]
        return {"items": items}

    def _op_revoke_subscription(self, account: str, params: Mapping[str, Any]) -> dict[str, Any]:
        dom = self._domain(params["domainIdentifier"], account)
        sub = self._get(dom.subscriptions, params["identifier"], "Subscription")
        if sub.data["status"] != "APPROVED":
            raise LakeClientError(
                "ConflictException", f"subscription {sub.id} is {sub.data['status']}", 409
            )
        sub.data.update(status="REVOKED", updatedAt=self._now())
        for grant in dom.grants.values():
            if grant.data["subscription"] == sub.id:
                for asset in grant.data["assets"]:
                    if asset["status"] == "GRANTED":
                        asset["status"] = "REVOKE_PENDING"
        out = self._subscription_out(dom, sub)
        out.pop("subscriptionRequestId", None)
        out["subscriptionRequestId"] = sub.data["request"]
        return out


def _selected(table: str, expressions: list[dict[str, Any]]) -> bool:
    """DataZone filter expressions: included by some INCLUDE (all when none), by no EXCLUDE."""
    includes = [e["expression"] for e in expressions if e.get("type") == "INCLUDE"]
    excludes = [e["expression"] for e in expressions if e.get("type") == "EXCLUDE"]
    if includes and not any(fnmatch.fnmatchcase(table, p) for p in includes):
        return False
    return not any(fnmatch.fnmatchcase(table, p) for p in excludes)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _stash(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    context[_PARAMS] = copy.deepcopy(params)

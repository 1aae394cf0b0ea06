"""A local mesh that outlives one command: ``meshkit local up`` and the commands after it.

moto's state lives in the memory of one process, so the state on disk is not a dump of moto's
backends (locks, generators and moto internals do not survive pickling faithfully) but a
**journal**: the mesh's name, the moment it started, and every event a command put onto a bus
(who sent it, onto which bus, when). Each command rebuilds the mesh from it: the seed (the
demo's domains, data and products, with fixed correlation ids), then each journalled event at
its own mesh-clock time, delivered until idle. Handlers are deterministic functions of the
registry and their event, so the rebuilt mesh holds what the last command left; the mesh
clock is then moved to the wall clock, so requests expire in real time between commands.

A ``meshkit permissions apply FILE --local`` is journalled too (``kind: permissions``, the
file as compact JSON): the rebuild applies it again at its moment, against the same catalog.

The journal is ``mesh.json`` under the state directory (``--state-dir``, ``$MESHKIT_STATE_DIR``,
default ``.meshkit/``); appends are atomic (write to a temporary file, then rename).
"""

from __future__ import annotations

import json
import os
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from meshkit.events.base import EventDetail
    from meshkit.governance.engine import Outcome
    from meshkit.governance.model import PersonasFile
    from meshkit.local.mesh import LocalMesh

__all__ = ["Journal", "NoLocalMeshError", "PersistedMesh", "default_state_dir", "seed_mesh"]

STATE_FILE = "mesh.json"
FORMAT = 1
#: The seed's correlation ids: fixed, so ``meshkit trace`` finds the same flow every time.
SEED_CORRELATION_IDS = (
    str(uuid.uuid5(uuid.NAMESPACE_URL, "meshkit:seed:sales.orders")),
    str(uuid.uuid5(uuid.NAMESPACE_URL, "meshkit:seed:sales.revenue")),
)


class NoLocalMeshError(Exception):
    """No persisted local mesh in the state directory."""


def default_state_dir() -> Path:
    return Path(os.environ.get("MESHKIT_STATE_DIR") or ".meshkit")


def seed_mesh(mesh: LocalMesh, *, rows_per_day: int = 50) -> None:
    """The demo's domains and products, registered and crawled; no access requested yet."""
    from meshkit.local.demo import add_demo_domains, demo_products, upload_demo_data

    sales, _marketing, _finance = add_demo_domains(mesh)
    mesh.run_until_idle()
    upload_demo_data(sales, rows_per_day=rows_per_day)
    for product in demo_products(sales, correlation_ids=SEED_CORRELATION_IDS):
        sales.put(product)
    mesh.run_until_idle()


@dataclass
class Journal:
    """What a persisted mesh is rebuilt from."""

    mesh: str = "demo"
    central_account: str = "111111111111"
    started: str = ""
    entries: list[dict[str, Any]] = field(default_factory=list)
    #: The personas file central.permissions was deployed with (compact JSON), if any.
    personas: str | None = None

    @classmethod
    def load(cls, path: Path) -> Journal:
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise NoLocalMeshError(
                f"no local mesh in {path.parent}: run `meshkit local up` first"
            ) from None
        except ValueError as exc:
            raise NoLocalMeshError(
                f"{path} is not a meshkit journal ({exc}); `meshkit local up --fresh` starts anew"
            ) from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise NoLocalMeshError(
                f"{path} has another format; `meshkit local up --fresh` starts anew"
            )
        return cls(
            mesh=data["mesh"],
            central_account=data["central_account"],
            started=data["started"],
            entries=list(data["entries"]),
            personas=data.get("personas"),
        )

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "format": FORMAT,
            "mesh": self.mesh,
            "central_account": self.central_account,
            "started": self.started,
            "entries": self.entries,
        }
        if self.personas is not None:
            data["personas"] = self.personas
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1) + "\n")
        tmp.replace(path)


class PersistedMesh:
    """The local mesh of one state directory."""

    def __init__(self, directory: Path | str | None = None) -> None:
        self.directory = Path(directory) if directory is not None else default_state_dir()
        self.path = self.directory / STATE_FILE

    def exists(self) -> bool:
        return self.path.is_file()

    def up(
        self, *, fresh: bool = False, now: datetime | None = None, personas: str | None = None
    ) -> Journal:
        """Create the journal (kept as it is when one exists, unless ``fresh``); ``personas``
        (compact JSON) builds the mesh with ``central.permissions`` deployed with that file."""
        if self.exists() and not fresh:
            journal = Journal.load(self.path)
            if personas is not None and personas != journal.personas:
                raise ValueError(
                    f"the local mesh in {self.directory} was built "
                    + ("with another personas file" if journal.personas else "without one")
                    + ": `local up --fresh --personas FILE` builds it anew with this one"
                )
            return journal
        moment = (now or datetime.now(UTC)).replace(microsecond=0)
        journal = Journal(started=moment.isoformat(), personas=personas)
        journal.save(self.path)
        return journal

    def down(self) -> bool:
        """Forget the mesh; whether there was one."""
        if not self.exists():
            return False
        self.path.unlink()
        return True

    def journal(self) -> Journal:
        return Journal.load(self.path)

    @contextmanager
    def open(self, *, now: datetime | None = None) -> Iterator[LiveMesh]:
        """The mesh rebuilt from the journal, running; ``put`` journals what it sends."""
        from meshkit.local.mesh import LocalMesh

        journal = self.journal()
        started = datetime.fromisoformat(journal.started)
        from meshkit.governance.model import loads

        mesh = LocalMesh(
            name=journal.mesh,
            central_account=journal.central_account,
            start=started,
            datazone=False,
            permissions=(
                loads(journal.personas, fmt="json", name=str(self.path))
                if journal.personas is not None
                else None
            ),
        )
        with mesh:
            seed_mesh(mesh)
            for entry in journal.entries:
                _catch_up(mesh, datetime.fromisoformat(entry["at"]))
                if entry.get("kind") == "permissions":
                    _apply_permissions(mesh, entry["file"])
                else:
                    mesh.put_from(entry["account"], entry["event"], bus=entry["bus"])
                mesh.run_until_idle()
            _catch_up(mesh, now or datetime.now(UTC))
            mesh.run_until_idle()
            yield LiveMesh(mesh, journal, self.path)


class LiveMesh:
    """A running mesh whose puts are journalled (when it has a journal)."""

    def __init__(self, mesh: LocalMesh, journal: Journal | None, path: Path | None) -> None:
        self.mesh = mesh
        self._journal = journal
        self._path = path

    def put(self, domain: str, event: EventDetail | Mapping[str, Any]) -> str:
        """Put ``event`` on ``domain``'s bus as its account, journal it, deliver until idle."""
        from meshkit.events.base import EventDetail
        from meshkit.events.envelope import to_put_events_entry

        handle = self.mesh.domain(domain)
        if isinstance(event, EventDetail):
            entry = to_put_events_entry(event, bus=handle.bus)
            raw: dict[str, Any] = {
                "source": entry["Source"],
                "detail-type": entry["DetailType"],
                "detail": json.loads(entry["Detail"]),
            }
            if entry.get("Resources"):
                raw["resources"] = list(entry["Resources"])
        else:
            raw = dict(event)
        at = self.mesh.clock()
        event_id = self.mesh.put_from(handle.account, raw, bus=domain)
        if self._journal is not None and self._path is not None:
            self._journal.entries.append(
                {"at": at.isoformat(), "account": handle.account, "bus": domain, "event": raw}
            )
            self._journal.save(self._path)
        self.mesh.run_until_idle()
        return event_id

    def permissions(self, file: PersonasFile, *, apply: bool) -> Outcome:
        """Plan ``file`` on central's catalog, and (``apply``) apply it and journal the apply."""
        from meshkit.governance.model import dumps_compact

        text = dumps_compact(file)
        at = self.mesh.clock()
        outcome = _apply_permissions(self.mesh, text, apply=apply)
        if apply and self._journal is not None and self._path is not None:
            self._journal.entries.append(
                {"at": at.isoformat(), "kind": "permissions", "file": text}
            )
            self._journal.save(self._path)
        self.mesh.run_until_idle()
        return outcome


def _apply_permissions(mesh: LocalMesh, text: str, *, apply: bool = True) -> Outcome:
    """Plan (and apply) a personas file on the mesh's central catalog, as the CLI does on AWS
    with the caller's credentials; ``mesh_domain``/``mesh_product`` are this mesh's tag keys."""
    from meshkit.governance.engine import apply_file, plan_file
    from meshkit.governance.handlers import with_mesh_tag_keys
    from meshkit.governance.model import loads

    file = with_mesh_tag_keys(loads(text, fmt="json", name="journal"), mesh.name)
    central = mesh.central
    glue, lf = central.client("glue"), central.client("lakeformation")
    return (apply_file if apply else plan_file)(file, glue, lf, central.account)


def _catch_up(mesh: LocalMesh, moment: datetime) -> None:
    """Move the mesh clock to ``moment`` (never back), firing the schedules due meanwhile."""
    gap = moment - mesh.clock()
    if gap > timedelta(0):
        mesh.advance(gap)
        mesh.run_until_idle()

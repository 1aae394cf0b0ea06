"""The self-service portal (``meshkit portal``): search, product pages, requests, the producer's
inbox, over the registry and the bus. Needs the ``portal`` extra (starlette, jinja2, uvicorn)."""

from __future__ import annotations

from meshkit.portal.app import PortalSettings, create_app
from meshkit.portal.backend import AwsBackend, Backend, Identity, LocalBackend

__all__ = [
    "AwsBackend",
    "Backend",
    "Identity",
    "LocalBackend",
    "PortalSettings",
    "create_app",
    "serve",
]


def serve(
    *,
    state_dir: str | None = None,
    host: str = "127.0.0.1",
    port: int = 8765,
    backend: Backend | None = None,
) -> int:
    """Run the portal on ``backend`` (an :class:`AwsBackend`), else on the persisted local
    mesh of ``state_dir`` when there is one (its events are journalled), else on a fresh demo
    mesh in memory."""
    import sys
    from contextlib import ExitStack

    try:
        import uvicorn
    except ImportError:
        from meshkit._extras import MissingExtraError

        raise MissingExtraError(
            "the portal needs the portal extra: pip install 'meshkit[portal]'"
        ) from None
    if backend is not None:
        print(f"meshkit portal on AWS: http://{host}:{port}/", file=sys.stderr, flush=True)
        uvicorn.run(create_app(backend), host=host, port=port, log_level="warning")
        return 0
    from meshkit.local.persist import LiveMesh, PersistedMesh, seed_mesh

    persisted = PersistedMesh(state_dir)
    with ExitStack() as stack:
        print("meshkit portal: starting the local mesh…", file=sys.stderr, flush=True)
        if persisted.exists():
            live = stack.enter_context(persisted.open())
            where = f"the local mesh in {persisted.directory}"
        else:
            from meshkit.local.mesh import LocalMesh

            mesh = stack.enter_context(LocalMesh(name="demo", central_account="111111111111"))
            seed_mesh(mesh)
            live = LiveMesh(mesh, None, None)
            where = "a fresh demo mesh (in memory; `meshkit local up` to keep state)"
        app = create_app(LocalBackend(live))
        print(f"meshkit portal on {where}: http://{host}:{port}/", file=sys.stderr, flush=True)
        uvicorn.run(app, host=host, port=port, log_level="warning")
    return 0

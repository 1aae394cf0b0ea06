"""The self-service portal: a small server-rendered ASGI app (Starlette + Jinja2, plain forms).

Pages: sign-in, product search, product pages (tables, columns, PII marks, owner, who has
access, lineage), the request form, the producer's inbox (approve/deny with a reason), "my
requests" (live state), request pages, domain pages, and a query page for granted products.

Security: server-side sessions (a random cookie, HttpOnly, SameSite=Strict) that expire;
every POST carries the session's CSRF token; decisions are POSTs only, never GET links; the
portal sends events as the signed-in identity's account and runs central's own checks first
(``meshkit.handlers.central.check_*``), so a refusal reads as central's, and central decides.
"""

from __future__ import annotations

import hmac
import secrets
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from meshkit.portal.backend import Backend, Identity

__all__ = ["PortalSettings", "create_app"]

_HERE = Path(__file__).parent
COOKIE = "meshkit_session"


@dataclass
class PortalSettings:
    #: A session ends after this many idle seconds (and a sign-in is needed again).
    session_seconds: int = 1800
    #: Set when the portal is served over HTTPS (the cookie is then Secure).
    secure_cookie: bool = False


@dataclass
class _Session:
    identity: Identity
    csrf: str
    expires: float
    flash: list[tuple[str, str]] = field(default_factory=list)


class _Sessions:
    def __init__(self, seconds: int) -> None:
        self.seconds = seconds
        self._by_token: dict[str, _Session] = {}

    def create(self, identity: Identity) -> str:
        token = secrets.token_urlsafe(32)
        self._by_token[token] = _Session(
            identity, secrets.token_urlsafe(32), time.monotonic() + self.seconds
        )
        return token

    def get(self, token: str | None) -> _Session | None:
        if not token:
            return None
        session = self._by_token.get(token)
        if session is None:
            return None
        if session.expires < time.monotonic():
            del self._by_token[token]
            return None
        session.expires = time.monotonic() + self.seconds
        return session

    def drop(self, token: str | None) -> None:
        if token:
            self._by_token.pop(token, None)


def create_app(backend: Backend, settings: PortalSettings | None = None) -> Any:
    """The portal's ASGI app over ``backend`` (the local mesh's or AWS's)."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    from meshkit.runtime.errors import RejectEvent

    settings = settings or PortalSettings()
    sessions = _Sessions(settings.session_seconds)
    env = Environment(
        loader=FileSystemLoader(_HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )

    def render(
        request: Request, template: str, session: _Session | None, status: int = 200, **ctx: Any
    ) -> Response:
        flash = list(session.flash) if session else []
        if session:
            session.flash.clear()
        html = env.get_template(template).render(
            request=request,
            me=session.identity if session else None,
            csrf=session.csrf if session else "",
            flash=flash,
            **ctx,
        )
        response = HTMLResponse(html, status_code=status)
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; frame-ancestors 'none'; form-action 'self'"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Cache-Control"] = "no-store"
        return response

    def session_of(request: Request) -> _Session | None:
        return sessions.get(request.cookies.get(COOKIE))

    def to_signin(request: Request) -> Response:
        target = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
        return RedirectResponse(f"/signin?next={target}", status_code=303)

    async def form_of(request: Request, session: _Session) -> dict[str, str] | None:
        """The POSTed form, or None when its CSRF token is not the session's."""
        body = (await request.body()).decode("utf-8", "replace")
        form = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
        if not hmac.compare_digest(form.get("csrf", ""), session.csrf):
            return None
        return form

    def forbidden(request: Request, session: _Session | None, message: str) -> Response:
        return render(request, "error.html", session, status=403, message=message)

    async def signed_form(request: Request) -> tuple[_Session, dict[str, str]] | Response:
        """The signed-in session and its POSTed form (CSRF checked), or the response that
        sends the user to sign in or refuses an expired form."""
        session = session_of(request)
        if session is None:
            return to_signin(request)
        form = await form_of(request, session)
        if form is None:
            return forbidden(request, session, "The form expired: reload the page and send again.")
        return session, form

    # -- sign-in -----------------------------------------------------------------------------
    async def signin(request: Request) -> Response:
        from meshkit.portal.backend import NotHere

        try:
            identities = backend.identities()
        except NotHere as exc:
            return forbidden(request, None, str(exc))
        next_url = request.query_params.get("next", "/")
        if request.method == "GET":
            return render(request, "signin.html", None, identities=identities, next_url=next_url)
        body = (await request.body()).decode("utf-8", "replace")
        form = {k: v[0] for k, v in parse_qs(body).items()}
        chosen = next((i for i in identities if i.key == form.get("identity")), None)
        if chosen is None:
            return render(
                request,
                "signin.html",
                None,
                status=400,
                identities=identities,
                next_url=next_url,
                error="Choose an account and role of this mesh.",
            )
        token = sessions.create(chosen)
        target = form.get("next") or "/"
        if not target.startswith("/") or target.startswith("//"):
            target = "/"
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            COOKIE,
            token,
            max_age=settings.session_seconds,
            httponly=True,
            samesite="strict",
            secure=settings.secure_cookie,
            path="/",
        )
        return response

    async def signout(request: Request) -> Response:
        session = session_of(request)
        if session is not None and await form_of(request, session) is not None:
            sessions.drop(request.cookies.get(COOKIE))
        response = RedirectResponse("/signin", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    # -- pages ---------------------------------------------------------------------------------
    async def home(request: Request) -> Response:
        session = session_of(request)
        if session is None:
            return to_signin(request)
        return RedirectResponse("/search", status_code=303)

    def search(request: Request) -> Response:
        session = session_of(request)
        if session is None:
            return to_signin(request)
        query = request.query_params.get("q", "")
        started = time.perf_counter()
        index = backend.search_index()
        hits = index.search(query)
        ms = (time.perf_counter() - started) * 1000
        return render(request, "search.html", session, q=query, hits=hits, total=len(index), ms=ms)

    def product(request: Request) -> Response:
        session = session_of(request)
        if session is None:
            return to_signin(request)
        domain, name = request.path_params["domain"], request.path_params["product"]
        with backend.lock:
            record = backend.registry.product(domain, name)
            if record is None:
                return render(
                    request,
                    "error.html",
                    session,
                    status=404,
                    message=f"No product {domain}.{name}.",
                )
            owner = backend.registry.domain(domain)
            requests = backend.registry.requests(product=(domain, name))
        lineage = backend.lineage(domain, name)
        return render(
            request,
            "product.html",
            session,
            p=record,
            owner=owner,
            access=[r for r in requests if r.state == "APPROVED"],
            requests=requests,
            lineage=lineage,
            lineage_note=backend.lineage_note,
        )

    async def request_access(request: Request) -> Response:
        from meshkit.events.access import AccessRequested
        from meshkit.handlers.central import (
            check_domain_owner,
            check_requested_product,
            check_requester,
        )

        signed = await signed_form(request)
        if not isinstance(signed, tuple):
            return signed
        session, form = signed
        me = session.identity
        domain, name = request.path_params["domain"], request.path_params["product"]
        purpose = form.get("purpose", "").strip()
        if not purpose:
            session.flash.append(("error", "Say what you need the data for (purpose)."))
            return RedirectResponse(f"/products/{domain}/{name}", status_code=303)
        days = form.get("days", "").strip()
        try:
            event = AccessRequested(
                request_id=f"req-{uuid.uuid4().hex[:12]}",
                consumer_domain=me.domain,
                producer_domain=domain,
                product=name,
                principals=[me.principal],
                purpose=purpose,
                duration_days=int(days) if days else None,
            )
        except ValueError as exc:
            session.flash.append(("error", f"The request is not valid: {exc}"))
            return RedirectResponse(f"/products/{domain}/{name}", status_code=303)
        with backend.lock:
            record = backend.registry.product(domain, name)
            consumer = backend.registry.domain(me.domain)
            producer = backend.registry.domain(domain)
            try:
                check_domain_owner(me.domain, _dump(consumer), me.account)
                check_requester(event, me.account)
                check_requested_product(event, _dump(record), _dump(producer))
            except RejectEvent as exc:
                return forbidden(request, session, f"Refused by the mesh's rules: {exc.reason}")
            backend.put(me, event)
        return RedirectResponse(f"/requests/{event.request_id}", status_code=303)

    def inbox(request: Request) -> Response:
        session = session_of(request)
        if session is None:
            return to_signin(request)
        me = session.identity
        with backend.lock:
            pending = [
                r
                for r in backend.registry.requests(state="PENDING")
                if r.producer_domain == me.domain
            ]
        return render(request, "inbox.html", session, pending=pending)

    def my_requests(request: Request) -> Response:
        session = session_of(request)
        if session is None:
            return to_signin(request)
        me = session.identity
        with backend.lock:
            mine = backend.registry.requests(consumer=me.domain)
        template = "my_rows.html" if request.url.path.endswith("/rows") else "my.html"
        return render(request, template, session, mine=mine)

    def request_page(request: Request) -> Response:
        session = session_of(request)
        if session is None:
            return to_signin(request)
        with backend.lock:
            record = backend.registry.request(request.path_params["request_id"])
        if record is None:
            return render(request, "error.html", session, status=404, message="No such request.")
        link = None
        if record.state == "APPROVED" and record.tables:
            from meshkit.registry import consumer_link_database_name

            link = consumer_link_database_name(
                backend.mesh_name, record.producer_domain, record.product
            )
        return render(request, "request.html", session, r=record, link=link)

    async def decide(request: Request) -> Response:
        from meshkit.events.access import AccessDecided
        from meshkit.handlers.central import check_decider, check_pending

        signed = await signed_form(request)
        if not isinstance(signed, tuple):
            return signed
        session, form = signed
        me = session.identity
        request_id = request.path_params["request_id"]
        approve = form.get("decision") == "approve"
        reason = form.get("reason", "").strip()
        if me.role != "owner":
            return forbidden(request, session, "Only a domain's data owner decides requests.")
        if not reason:
            session.flash.append(("error", "Give a reason: the consumer reads it."))
            return RedirectResponse(f"/requests/{request_id}", status_code=303)
        with backend.lock:
            record = backend.registry.request(request_id)
            producer = backend.registry.domain(record.producer_domain) if record else None
            try:
                check_decider(request_id, _dump(record), _dump(producer), me.account)
                assert record is not None
                check_pending(request_id, _dump(record) or {}, backend.now())
            except RejectEvent as exc:
                return forbidden(request, session, f"Refused by the mesh's rules: {exc.reason}")
            backend.put(
                me,
                AccessDecided(
                    request_id=request_id,
                    approved=approve,
                    decided_by=me.principal,
                    reason=reason,
                    **({"correlation_id": record.correlation_id} if record.correlation_id else {}),
                ),
            )
            after = backend.registry.request(request_id)
        state = after.state if after else "?"
        session.flash.append(("ok", f"{'Approved' if approve else 'Denied'}: request is {state}."))
        return RedirectResponse(f"/requests/{request_id}", status_code=303)

    async def query(request: Request) -> Response:
        from meshkit.portal.backend import NotHere

        session = session_of(request)
        if session is None:
            return to_signin(request)
        sql, result, error = "", None, None
        if request.method == "POST":
            form = await form_of(request, session)
            if form is None:
                return forbidden(request, session, "The form expired: reload the page.")
            sql = form.get("sql", "").strip()
            try:
                result = backend.query(session.identity, sql)
            except PermissionError as exc:
                error = f"Refused: {exc}"
            except NotHere as exc:
                error = str(exc)
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
        else:
            sql = request.query_params.get("sql", "")
        return render(request, "query.html", session, sql=sql, result=result, error=error)

    def domains(request: Request) -> Response:
        session = session_of(request)
        if session is None:
            return to_signin(request)
        with backend.lock:
            records = backend.registry.domains()
            products = backend.registry.products()
        return render(request, "domains.html", session, domains=records, products=products)

    def domain_page(request: Request) -> Response:
        session = session_of(request)
        if session is None:
            return to_signin(request)
        name = request.path_params["domain"]
        with backend.lock:
            record = backend.registry.domain(name)
            if record is None:
                return render(request, "error.html", session, status=404, message="No such domain.")
            products = backend.registry.products(name)
            consumed = backend.registry.requests(consumer=name)
        return render(
            request, "domain.html", session, d=record, products=products, consumed=consumed
        )

    def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    routes = [
        Route("/", home),
        Route("/signin", signin, methods=["GET", "POST"]),
        Route("/signout", signout, methods=["POST"]),
        Route("/search", search),
        Route("/products/{domain}/{product}", product),
        Route("/products/{domain}/{product}/request", request_access, methods=["POST"]),
        Route("/inbox", inbox),
        Route("/my", my_requests),
        Route("/my/rows", my_requests),
        Route("/requests/{request_id}", request_page),
        Route("/requests/{request_id}/decide", decide, methods=["POST"]),
        Route("/query", query, methods=["GET", "POST"]),
        Route("/domains", domains),
        Route("/domains/{domain}", domain_page),
        Route("/healthz", health),
        Mount("/static", StaticFiles(directory=_HERE / "static"), name="static"),
    ]
    return Starlette(routes=routes)


def _dump(record: Any) -> dict[str, Any] | None:
    if record is None:
        return None
    data: dict[str, Any] = record.model_dump(mode="json", by_alias=True, exclude_none=True)
    return data

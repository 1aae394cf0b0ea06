"""The portal in a real browser (Debian's Chromium driven by Playwright, no browser download):
a consumer finds and requests a PII product, its producer approves in the inbox, the consumer
sees APPROVED and queries it; a non-owner's approval is refused. One mesh, one server and one
browser for the module; a screenshot of each page under .artifacts/portal/."""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

pytest.importorskip("starlette", reason="the portal extra is not installed")
playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (the dev extra)"
)

from meshkit.local.mesh import LocalMesh  # noqa: E402
from meshkit.local.persist import LiveMesh, seed_mesh  # noqa: E402
from meshkit.portal import LocalBackend, create_app  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Iterator

CHROMIUM = os.environ.get("MESHKIT_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = Path(__file__).resolve().parents[2] / ".artifacts" / "portal"

if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
    pytest.skip(
        f"Chromium is not installed at {CHROMIUM} (`make install` apt-installs chromium; "
        "where apt cannot, this browser test cannot run)",
        allow_module_level=True,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def portal() -> Iterator[tuple[str, LocalBackend]]:
    import uvicorn

    with LocalMesh(name="demo", central_account="111111111111") as mesh:
        seed_mesh(mesh, rows_per_day=5)
        backend = LocalBackend(LiveMesh(mesh, None, None))
        port = _free_port()
        server = uvicorn.Server(
            uvicorn.Config(create_app(backend), host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the portal did not start")
            time.sleep(0.05)
        try:
            yield f"http://127.0.0.1:{port}", backend
        finally:
            server.should_exit = True
            thread.join(10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


#: An accessibility audit of the page as Chromium renders it: the page has a language and a
#: main heading; every form control has a label; every link and button has a name; every
#: visible text meets WCAG AA contrast against its effective background (4.5:1; 3:1 for large
#: text) in the computed colours.
AUDIT = """() => {
  const problems = [];
  if (!document.documentElement.lang) problems.push("html has no lang");
  if (!document.querySelector("h1")) problems.push("no h1");
  for (const el of document.querySelectorAll("input, select, textarea")) {
    if (el.type === "hidden" || el.type === "submit") continue;
    if (!(el.labels && el.labels.length) && !el.getAttribute("aria-label"))
      problems.push(`unlabelled ${el.tagName.toLowerCase()} ${el.name || el.id}`);
  }
  for (const el of document.querySelectorAll("a, button")) {
    if (!(el.innerText || el.getAttribute("aria-label") || "").trim())
      problems.push(`nameless ${el.tagName.toLowerCase()}`);
  }
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length >= 3 && (c.length === 3 || c[3] > 0)) return c;
    }
    return [255, 255, 255];
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const el = node.parentElement;
    if (!node.textContent.trim() || !el || !el.offsetParent) continue;
    const style = getComputedStyle(el);
    if (el.closest(".sr-only, .skip")) continue;
    const [a, b] = [lum(rgb(style.color)), lum(background(el))];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5))
      problems.push(`contrast ${ratio.toFixed(2)} for "${node.textContent.trim().slice(0, 30)}"`);
  }
  return problems;
}"""


def _shot(page: Any, name: str) -> None:
    """Keep a screenshot of the page as a test artifact, and audit it (AUDIT)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    problems = page.evaluate(AUDIT)
    assert not problems, f"{name}: {problems}"


def _sign_in(page: Any, base: str, label: str) -> None:
    page.goto(f"{base}/signin")
    page.get_by_label(label).check()
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/search"))


def test_request_approve_query_and_a_refused_non_owner(
    portal: tuple[str, LocalBackend], browser: Any
) -> None:
    base, backend = portal
    consumer = browser.new_context(viewport={"width": 1280, "height": 800})
    page = consumer.new_page()
    page.goto(base)
    page.wait_for_url(re.compile(r"/signin"))
    _shot(page, "01-signin")
    _sign_in(page, base, "marketing: consumer (analyst), account 333333333333")

    # GIVEN a consumer searching by a column name and a classification
    page.get_by_label("Search by name, domain, column, classification or tag").fill("email pii")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"q=email"))
    assert "1 of 2 products" in page.locator("#count").inner_text()
    _shot(page, "02-search")
    page.get_by_role("link", name="sales.orders").click()
    assert page.get_by_role("heading", name="sales.orders PII").is_visible()
    assert page.locator("td", has_text="email").count() >= 1
    _shot(page, "03-product")

    # WHEN it requests the PII product
    page.get_by_label("Purpose (recorded, read by the owner)").fill("campaign attribution")
    page.get_by_role("button", name="Request access").click()
    page.wait_for_url(re.compile(r"/requests/req-"))
    request_id = page.url.rsplit("/", 1)[-1]
    assert page.locator("#state").inner_text() == "PENDING"
    page.get_by_role("link", name="My requests").click()
    assert page.locator("#my-rows .state").first.inner_text() == "PENDING"

    # AND a non-owner (marketing's data owner) tries to approve it: the mesh's rule refuses
    intruder = browser.new_context()
    other = intruder.new_page()
    _sign_in(other, base, "marketing: data owner, account 333333333333")
    other.goto(f"{base}/requests/{request_id}")
    other.get_by_label("Reason (told to the consumer)").fill("looks fine")
    other.get_by_role("button", name="Approve").click()
    refusal = other.locator("#error").inner_text()
    assert "only the producer's account 222222222222 may" in refusal
    _shot(other, "07-refused")
    assert backend.registry.request(request_id).state == "PENDING"  # type: ignore[union-attr]
    intruder.close()

    # THEN the producer approves in its inbox, with a reason
    owner = browser.new_context(viewport={"width": 1280, "height": 800})
    inbox = owner.new_page()
    _sign_in(inbox, base, "sales: data owner, account 222222222222")
    inbox.get_by_role("link", name="Inbox").click()
    assert inbox.get_by_role("heading", name=re.compile(request_id)).is_visible()
    _shot(inbox, "04-inbox")
    inbox.get_by_label("Reason (told to the consumer)").fill("purpose compatible with consent")
    inbox.get_by_role("button", name="Approve").click()
    inbox.wait_for_url(re.compile(rf"/requests/{request_id}"))
    assert inbox.locator("#state").inner_text() == "APPROVED"
    owner.close()

    # AND the consumer's "my requests" turns APPROVED by itself, and the query runs
    page.locator("#my-rows .state-approved").first.wait_for(timeout=10_000)
    _shot(page, "05-my-requests")
    page.goto(f"{base}/requests/{request_id}")
    page.get_by_role("link", name="Query it").click()
    page.get_by_role("button", name="Run").click()
    assert page.locator("#rows").inner_text() == "5 rows"
    _shot(page, "06-query")

    # AND the domain pages list the domains, their products and what they consume
    page.get_by_role("link", name="Domains").click()
    _shot(page, "08-domains")
    page.get_by_role("link", name="sales", exact=True).first.click()
    assert page.get_by_role("heading", name="Domain sales").is_visible()
    assert page.get_by_role("link", name="orders", exact=True).is_visible()
    _shot(page, "09-domain")
    consumer.close()


def test_the_search_and_a_request_work_from_the_keyboard_alone(
    portal: tuple[str, LocalBackend], browser: Any
) -> None:
    """Tab reaches the skip link first, then the search box; Enter searches; a result link
    is reached by Tab and followed by Enter; every focused element shows its focus ring."""
    base, _backend = portal
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    _sign_in(page, base, "finance: consumer (controller), account 444444444444")
    page.goto(f"{base}/search")
    focus = """() => {
      const el = document.activeElement;
      const name = el.getAttribute("aria-label") || el.innerText || el.name;
      return [el.tagName, name, getComputedStyle(el).outlineStyle];
    }"""
    seen = []
    for _ in range(30):
        page.keyboard.press("Tab")
        tag, name, outline = page.evaluate(focus)
        seen.append((tag, name))
        assert outline != "none", f"no visible focus on {tag} {name!r}"
        if tag == "INPUT":
            break
    assert seen[0][0] == "A", seen[0]
    assert "Skip" in seen[0][1], seen[0]
    assert seen[-1][0] == "INPUT", seen
    page.keyboard.type("revenue")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"q=revenue"))
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.innerText") == "sales.revenue":
            break
    else:
        raise AssertionError("Tab never reached the result link sales.revenue")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/products/sales/revenue"))
    context.close()


def test_posts_need_the_sessions_csrf_token_and_decisions_are_never_gets(
    portal: tuple[str, LocalBackend],
) -> None:
    import httpx

    base, _backend = portal
    with httpx.Client(base_url=base, follow_redirects=False) as client:
        signed = client.post("/signin", data={"identity": "sales/owner/data-owner"})
        assert signed.status_code == 303
        assert "httponly" in signed.headers["set-cookie"].lower()
        assert "samesite=strict" in signed.headers["set-cookie"].lower()
        assert client.get("/requests/req-x/decide").status_code == 405
        forged = client.post(
            "/requests/req-x/decide", data={"decision": "approve", "reason": "x", "csrf": "no"}
        )
        assert forged.status_code == 403
        assert "form expired" in forged.text
    with httpx.Client(base_url=base, follow_redirects=False) as anonymous:
        assert anonymous.get("/inbox").headers["location"].startswith("/signin")

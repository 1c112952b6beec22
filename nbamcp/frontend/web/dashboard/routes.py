"""``/dashboard`` and its login: the key is typed once into a form, a cookie stands for it afterwards.

Who may look: a key with scope ``metrics`` or ``admin`` (as for ``/metrics``),
sent as a bearer header or by the dashboard's cookie; without a key the page
sends the browser to the login form. The login form posts the key; the answer
sets an HttpOnly, SameSite=Strict cookie (Secure over HTTPS) and goes back to
the page. Host/Origin checks (a login posted from another site) happen before
any of this, in the edge layers.
"""

from __future__ import annotations

import structlog
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from nbamcp.frontend.auth.cookies import COOKIE, DashboardSessions
from nbamcp.frontend.auth.verifier import Principal
from nbamcp.frontend.gateway import Gateway
from nbamcp.frontend.recent import RecentCalls
from nbamcp.frontend.web.dashboard.data import gather
from nbamcp.frontend.web.dashboard.page import login_page, render
from nbamcp.frontend.web.edge import PRINCIPAL
from nbamcp.frontend.web.routes import METRICS_SCOPES

log = structlog.get_logger(__name__)
PATH = "/dashboard"


def _may_look(who: Principal) -> bool:
    return who.trusted or any(s in who.scopes for s in METRICS_SCOPES)


def dashboard_routes(
    gw: Gateway, recent: RecentCalls, cookies: DashboardSessions, *, key_required: bool, timeout_s: float
) -> list[Route]:
    async def page(request: Request) -> Response:
        who: Principal | None = request.scope.get(PRINCIPAL)
        if who is None and key_required:
            return RedirectResponse(f"{PATH}/login", status_code=303)
        if who is not None and not _may_look(who):
            return HTMLResponse(
                login_page("this key may not see the dashboard: it needs scope metrics or admin"), 403
            )
        data = await gather(gw, recent, timeout_s=timeout_s)
        label = f"tenant {who.tenant}" if who is not None and not who.trusted else "local (no auth)"
        return HTMLResponse(render(data, who=label, logout=who is not None and not who.trusted))

    async def login_form(request: Request) -> Response:
        return HTMLResponse(login_page())

    async def login(request: Request) -> Response:
        form = await request.form()
        key = form.get("key")
        found = cookies.login(key.strip()) if isinstance(key, str) else None
        if found is None:
            log.info("dashboard.login_refused", why="unknown or revoked key")
            return HTMLResponse(login_page("that key is not valid (unknown, mistyped or revoked)"), 401)
        sid, who = found
        if not _may_look(who):
            cookies.logout(sid)
            log.info("dashboard.login_refused", why="scope", tenant=who.tenant, key_id=who.key_id)
            return HTMLResponse(
                login_page("this key may not see the dashboard: it needs scope metrics or admin"), 403
            )
        log.info("dashboard.login", tenant=who.tenant, key_id=who.key_id)
        response = RedirectResponse(PATH, status_code=303)
        response.set_cookie(
            COOKIE, sid, max_age=int(cookies.ttl_s), path=PATH, httponly=True, samesite="strict",
            secure=request.url.scheme == "https",
        )  # fmt: skip
        return response

    async def logout(request: Request) -> Response:
        sid = request.cookies.get(COOKIE)
        if sid:
            cookies.logout(sid)
        response = RedirectResponse(f"{PATH}/login", status_code=303)
        response.delete_cookie(COOKIE, path=PATH)
        return response

    return [
        Route(PATH, page, methods=["GET"]),
        Route(f"{PATH}/login", login_form, methods=["GET"]),
        Route(f"{PATH}/login", login, methods=["POST"]),
        Route(f"{PATH}/logout", logout, methods=["POST"]),
    ]

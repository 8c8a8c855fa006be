"""Rendering a page: the shared Jinja environment, the language, who is signed in."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from anju.security.identity import Principal
from anju.security.roles import UnknownRole, get_role
from anju.web.pages.i18n import LANG_COOKIE, LANG_MAX_AGE, Lang, language, script_texts, translator

_env = Environment(
    loader=PackageLoader("anju.web", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _role_names(principal: Principal | None, lang: Lang) -> list[str]:
    if principal is None:
        return []
    names = []
    for role, scope in principal.bindings:
        try:
            r = get_role(role)
            name = r.zh if lang == "zh" else r.en
        except UnknownRole:
            name = role
        names.append(f"{name}@{scope}" if scope else name)
    return names


# The console's sections in the top bar, each shown to those who hold the permission its page declares.
NAV: tuple[tuple[str, str, str], ...] = (
    ("/console", "nav_console", "alarms:view"),
    ("/devices", "nav_devices", "devices:view"),
    ("/records", "nav_records", "records:view"),
    ("/quarantine", "nav_quarantine", "quarantine:view"),
    ("/evaluation", "nav_evaluation", "evaluation:view"),
)


def _nav(principal: Principal | None) -> list[tuple[str, str]]:
    if principal is None:
        return []
    out = []
    for href, key, permission in NAV:
        everywhere, scopes = principal.grant(permission)
        if everywhere or scopes:
            out.append((href, key))
    return out


def json_script(value: Any) -> Markup:
    """JSON safe inside a <script type="application/json"> element (no `</script>` can close it)."""
    text = json.dumps(value, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")
    return Markup(text.replace("&", "\\u0026"))


def render(
    request: Request,
    template: str,
    *,
    principal: Principal | None = None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    lang = language(request)
    html = _env.get_template(template).render(
        lang=lang,
        html_lang="zh-CN" if lang == "zh" else "en",
        t=translator(lang),
        texts=json_script(script_texts(lang)),
        other_lang="en" if lang == "zh" else "zh",
        path=request.url.path,
        user=principal.name if principal is not None else None,
        roles=_role_names(principal, lang),
        nav=_nav(principal),
        json_script=json_script,
        **context,
    )
    # Pages may show masked personal data: never kept by a shared cache or the browser's history cache.
    response = HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})
    if request.query_params.get("lang") in ("zh", "en"):
        response.set_cookie(LANG_COOKIE, lang, max_age=LANG_MAX_AGE, samesite="lax", path="/")
    return response

"""Records look-up: find stored records by ID number, plate or phone (exact, through the blind index),
device and time, shown masked; a caller who may unmask reveals one record at a time (audited).

The page only describes the record types (which fields can be searched); every search and every reveal
is `GET /api/v1/records/{type}` and `GET /api/v1/records/{type}/{id}?unmask=true` from
`static/js/records.js`, so the API's scoping, masking and auditing are the only ones there are.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from anju.security.personal import BLIND_KINDS
from anju.standard.spec import RecordType, load_standard
from anju.web.auth import Access
from anju.web.pages.access import page, to_login
from anju.web.pages.errors import page_router
from anju.web.pages.i18n import Lang, language
from anju.web.pages.render import render

router = page_router()
# The order the search fields are offered in: the issue asks for ID numbers and plates first.
KIND_ORDER = ("id_number", "plate", "phone")


def _name(rtype: RecordType, code: str | None, lang: Lang) -> str | None:
    if code is None:
        return None
    f = rtype.field(code)
    return f.zh if lang == "zh" else f.en


def describe(lang: Lang) -> list[dict[str, Any]]:
    """Each record type with the fields the records API can search exactly and the columns to list."""
    out = []
    for slug, rtype in load_standard().items():
        blind = [f for f in rtype.fields if f.personal in BLIND_KINDS]
        blind.sort(key=lambda f: KIND_ORDER.index(f.personal or "phone"))
        out.append(
            {
                "slug": slug,
                "name": rtype.title_zh if lang == "zh" else rtype.title_en,
                "search": [
                    {"code": f.code, "name": f.zh if lang == "zh" else f.en, "kind": f.personal}
                    for f in blind
                ],
                "time": rtype.time_field,
                "time_name": _name(rtype, rtype.time_field, lang),
                "device": rtype.device_field,
                "device_name": _name(rtype, rtype.device_field, lang),
                # Every field's name, for the full view of a record.
                "fields": {f.code: f.zh if lang == "zh" else f.en for f in rtype.fields},
                "personal": [f.code for f in rtype.fields if f.personal],
            }
        )
    # Types with something to search by first (access swipes, vehicle passes, …).
    out.sort(key=lambda t: (not t["search"], t["slug"] != "access_swipe"))
    return out


@router.get("/records", response_class=HTMLResponse, response_model=None)
async def records_page(
    request: Request, access: Annotated[Access | None, page("records:view")]
) -> HTMLResponse | RedirectResponse:
    if access is None:
        return to_login(request)
    lang = language(request)
    types = describe(lang)
    config = {
        "types": types,
        # The reveal button is offered only to those who may press it; the API checks (and audits) again.
        "canUnmask": access.also("records:unmask") is not None,
        "lang": lang,
    }
    return render(request, "records.html", principal=access.principal, types=types, config=config)

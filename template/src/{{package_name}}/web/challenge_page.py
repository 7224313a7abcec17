"""The bot challenge over HTTP: a page a person's browser completes, or JSON a client solves.

A top-level navigation to `/auth/login` that must solve the built-in proof
of work gets a small HTML page (403) that loads `/auth/challenge.js`; the
script solves the challenge in about a second and re-navigates to the same
login with `challenge_token=...`, so a person only waits. Anything else
(fetch, API clients, the WebAuthn endpoints) gets the JSON 403
`{"error": "challenge_required", "detail", "challenge": {...}}` with what it
needs to solve one (docs/step-up-and-abuse.md). With Turnstile/hCaptcha the
widget lives on your own page, so navigations get the JSON too.
"""

from __future__ import annotations

import html
from importlib.resources import files
from typing import Final
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from ..errors import ChallengeRequiredError
from ..security.headers import CHALLENGE_PAGE_CSP

SCRIPT_PATH: Final = "/auth/challenge.js"
#: The query parameter a solved token travels in (a navigation cannot send headers).
TOKEN_PARAMETER: Final = "challenge_token"  # noqa: S105 - a parameter name, not a secret

router = APIRouter(tags=["auth"])


def is_navigation(request: Request) -> bool:
    """A browser loading a page (not fetch): Fetch Metadata says so, or, without it, the Accept header."""
    mode = request.headers.get("sec-fetch-mode")
    if mode is not None:
        return mode == "navigate"
    return "text/html" in request.headers.get("accept", "")


def challenge_json(error: ChallengeRequiredError) -> JSONResponse:
    return JSONResponse(
        {"error": error.code, "detail": str(error), "challenge": error.challenge},
        status_code=403,
    )


def challenge_response(request: Request, error: ChallengeRequiredError) -> Response:
    """The page for a browser navigation that can solve it here; the JSON for everything else."""
    if error.challenge.get("kind") == "proof_of_work" and is_navigation(request):
        return _page(request, error.challenge)
    return challenge_json(error)


def _retry_url(request: Request) -> str:
    """The interrupted request again, without the token that did not pass."""
    query = [(name, value) for name, value in request.query_params.multi_items() if name != TOKEN_PARAMETER]
    return request.url.path + (f"?{urlencode(query)}" if query else "")


def _page(request: Request, challenge: dict[str, object]) -> HTMLResponse:
    attribute = {
        "challenge": str(challenge["challenge"]),
        "difficulty": str(challenge["difficulty"]),
        "retry": _retry_url(request),
    }
    data = " ".join(f'data-{name}="{html.escape(value, quote=True)}"' for name, value in attribute.items())
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>Checking your browser</title><script src="{SCRIPT_PATH}" defer></script></head>'
        f'<body><main id="challenge" {data}>'
        '<p id="challenge-status">Checking your browser before you sign in. This takes about a second.</p>'
        "<noscript><p>This check needs JavaScript. Turn it on and reload the page.</p></noscript>"
        "</main></body></html>"
    )
    return HTMLResponse(body, status_code=403, headers={"content-security-policy": CHALLENGE_PAGE_CSP})


@router.get(SCRIPT_PATH, include_in_schema=False)
def challenge_script() -> Response:
    """The solver, same-origin so the page's CSP needs no inline script and no third party."""
    script = files(__package__).joinpath("challenge.js").read_text(encoding="utf-8")
    return Response(script, media_type="text/javascript")

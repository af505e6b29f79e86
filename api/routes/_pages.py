"""Tiny HTML pages the customer sees (feedback links, survey): no template engine needed."""

from __future__ import annotations

import html

from fastapi.responses import HTMLResponse

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,Arial,sans-serif;background:#f6f6f4;color:#222;
margin:0;padding:40px 16px}
main{max-width:480px;margin:0 auto;background:#fff;border-radius:10px;padding:28px 28px 22px;
box-shadow:0 1px 4px rgba(0,0,0,.08)}
h1{font-size:1.35rem;margin:0 0 12px}p{line-height:1.5}
button{font-size:1rem;padding:10px 18px;border:0;border-radius:6px;background:#b33a1f;color:#fff;
cursor:pointer}
textarea{width:100%;box-sizing:border-box;min-height:90px;font:inherit;padding:8px;margin:8px 0}
.scores label{display:inline-block;margin:0 10px 8px 0;font-size:1.1rem}
.muted{color:#666;font-size:.9rem}
"""


def storable(text: str) -> str:
    """Form text without what a database cannot store (NUL characters, unpaired surrogates)."""
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


# The pages run no script at all (a link scanner that runs JavaScript must not vote or answer):
# the policy forbids scripts, and forms may post only back to this site.
CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    """A complete small HTML page without scripts (``body`` is trusted markup; escape what goes in it)."""
    doc = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        '<meta name=robots content="noindex,nofollow">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )
    return HTMLResponse(
        doc,
        status_code=status,
        headers={
            "Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "Content-Security-Policy": CSP
        },
    )


def error_page(title: str, message: str, status: int) -> HTMLResponse:
    return page(title, f"<h1>{esc(title)}</h1><p>{esc(message)}</p>", status)

"""The HTML page at / and /eureka/: what an operator checks first (and `wget -O-` prints)."""

from __future__ import annotations

import time
from html import escape
from urllib.parse import urlsplit

from fastapi import FastAPI

from ecommerce.services.discovery.registry import Registry


def render_status_page(app: FastAPI) -> str:
    """Instances, their status, uptime and lease ages, plus the registry's own state."""
    registry: Registry = app.state.eureka_registry
    replicator = app.state.eureka_replicator
    now = time.time()
    rows = []
    for name in sorted(registry.apps):
        for instance_id, lease in sorted(registry.apps[name].items()):
            record = lease.record
            rows.append(
                "<tr>"
                f"<td>{escape(name)}</td><td>{escape(instance_id)}</td>"
                f"<td class='{escape(record['status'])}'>{escape(record['status'])}</td>"
                f"<td>{_age(now - lease.service_up_at) if lease.service_up_at else '-'}</td>"
                f"<td>{_age(now - lease.registered_at)}</td>"
                f"<td>{_age(now - lease.renewed_at)}</td>"
                f"<td>{_link(record['homePageUrl'])}</td>"
                "</tr>"
            )
    peers = ", ".join(escape(peer) for peer in replicator.peers) if replicator else "none"
    body = "\n".join(rows) or "<tr><td colspan='7'>No instances registered.</td></tr>"
    mode = "ON (leases are not evicted)" if registry.preserving else "off"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>service-discovery</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.3em .6em;text-align:left}}.UP{{color:green}}
.DOWN,.OUT_OF_SERVICE{{color:#b00}}</style></head>
<body><h1>service-discovery</h1>
<p>Uptime {_age(now - registry.started_at)} &middot; {registry.size()} instances in {len(registry.apps)} applications
&middot; self-preservation {mode} &middot; replicas {peers}</p>
<table><thead><tr><th>Application</th><th>Instance</th><th>Status</th><th>Up for</th>
<th>Registered</th><th>Last renewal</th><th>Home page</th></tr></thead>
<tbody>
{body}
</tbody></table></body></html>
"""


def _link(url: str) -> str:
    """A link for an http(s) home page; anything else (javascript:, data:) is a client's text, shown as text."""
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        scheme = ""
    if scheme in ("http", "https"):
        return f"<a href='{escape(url.strip())}'>{escape(url)}</a>"
    return escape(url)


def _age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"

"""bench/results/checkout.md from the figures of bench/checkout/run.py (revisions side by side)."""

from __future__ import annotations

from typing import Any

from bench.checkout import run
from bench.common import write_result


def write(results: dict[str, dict[str, Any]], *, machine: str, load: str) -> None:
    labels = list(results)
    common = run.common_rate(list(results.values())) or 0.0
    lines = [
        "# Checkout journey through the gateway and the storefront (PostgreSQL), revisions side by side",
        "",
        f"Machine: {machine}. Load when the run ended: `{load}`.",
        "",
        "`python -m bench checkout`: for this revision and each of CHECKOUT_BASELINES (here: "
        + ", ".join(label for label in labels if label != run.THIS)
        + "), one after the other in one run: `ecommerce up` (all ten components, one process each) on fresh",
        "PostgreSQL databases. A purchase = sign in as a demo shopper, read the product, `POST /app/api/checkout`",
        "one unit, pay (`PATCH /app/api/payments/{id}` IN_PROGRESS, then COMPLETED), read the order back as PAID:",
        f"six requests through api-gateway. Purchases start open-loop at a fixed rate for {run.STEP_SECONDS} s per",
        f"step; latency counts from each purchase's due start. The rate climbs until a step has an error or a p99 over "
        f"{run.P99_BOUND_MS:.0f} ms twice in a row (a step that breaks the bound runs once more after a cool-down).",
        "The load generator shares the machine's two cores with the shop and PostgreSQL. Every purchase comes from",
        "one address, so the edge's per-client rate limits are lifted for the run (`run.UNLIMITED`).",
        "",
        "## Summary",
        "",
        f"| revision | purchases/s (p99 <= 500 ms, no errors) | CPU ms per purchase at {common:g}/s | CPU ms per "
        "purchase (whole sweep) | CPU ms per purchase (accounting, 3/s) | background CPU ms per second (idle) | "
        "HTTP calls inside the shop per purchase | SQL statements per purchase | transactions per purchase | "
        "CPU ms per purchase under the loadgen mix |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, r in results.items():
        account = r["account"]
        internal = sum(v for (callee, _, _), v in account["server"].items() if callee != "api-gateway")
        internal -= sum(v for (callee, _, uri), v in account["server"].items() if _is_external(callee, uri))
        sql = sum(account["sql"].values())
        xacts = sum(v["xact_commit"] + v["xact_rollback"] for v in account["pg"].values())
        at_common = run.cpu_at(r["sweeps"], common)
        lines.append(
            f"| {label} | {run.best_rate(r['sweeps']):.1f} | {_figure(at_common)} | {sum(r['cpu_ms'].values()):.1f} | "
            f"{sum(account['cpu'].values()):.1f} | {sum(r.get('idle', {}).values()):.1f} | {internal:.1f} | "
            f"{sql:.1f} | {xacts:.1f} | {r['mix']['cpu_ms_per_purchase']:.1f} |"
        )
    lines += _ratios(results, common)
    lines += ["", "## CPU per purchase by process (over the sweep)", ""]
    lines += _by_name([dict(r["cpu_ms"]) for r in results.values()], labels, "process", "{:.1f}")
    lines += ["", f"## Background CPU by process (ms per second, {run.IDLE_SECONDS} s with no purchase running)", ""]
    lines += _by_name([dict(r.get("idle", {})) for r in results.values()], labels, "process", "{:.2f}")
    for label, r in results.items():
        lines += _sweep_table(label, r)
    lines += ["", "## Calls one purchase makes (accounting run, 3 purchases/s, background work included)", ""]
    for label, r in results.items():
        lines += _calls(label, r["account"])
    lines += ["", "## SQL per purchase (the server's statement log, by database and statement)", ""]
    for label, r in results.items():
        lines += _sql(label, r["account"])
    lines += ["", "## Bytes read and written per purchase (/proc/<pid>/io rchar, wchar; sockets and files)", ""]
    lines += _by_name(
        [
            {k: f"{v[0] / 1024:.1f} / {v[1] / 1024:.1f}" for k, v in r["account"]["io"].items()}
            for r in results.values()
        ],
        labels,
        "process (KiB read / written)",
        "{}",
    )
    lines += ["", "## The load generator's mix", ""]
    lines += [
        f"`ecommerce loadgen --users {run.MIX_USERS} --rate {run.MIX_RATE:g} --duration {run.MIX_SECONDS}` against "
        "the same running shop after the sweep (browsing dominates: about 80 of 100 actions read the catalog). CPU",
        "of the shop's processes over the run divided by the payments that reached COMPLETED meanwhile.",
        "",
        "| revision | purchases completed | requests | failed requests | CPU ms per purchase | CPU ms per request |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, r in results.items():
        m = r["mix"]
        lines.append(
            f"| {label} | {m['purchases']:.0f} | {m['requests']:.0f} | {m['failures']:.0f} | "
            f"{m['cpu_ms_per_purchase']:.1f} | {m['cpu_ms_per_request']:.2f} |"
        )
    write_result("checkout", lines)


def _is_external(callee: str, uri: str) -> bool:
    """The journey's own requests as the storefront receives them from the gateway (not calls inside the shop)."""
    return callee == "proxy-client" and uri.startswith("/app/api")


def _ratios(results: dict[str, dict[str, Any]], common: float) -> list[str]:
    if run.THIS not in results or len(results) < 2:
        return []
    now = results[run.THIS]
    lines = [""]
    for label, r in results.items():
        if label == run.THIS:
            continue
        rate_then, rate_now = run.best_rate(r["sweeps"]), run.best_rate(now["sweeps"])
        cpu_then, cpu_now = run.cpu_at(r["sweeps"], common), run.cpu_at(now["sweeps"], common)
        account_then, account_now = sum(r["account"]["cpu"].values()), sum(now["account"]["cpu"].values())
        at_common = f"{cpu_now / cpu_then:.2f}x at {common:g}/s" if cpu_then and cpu_now else "not measured"
        lines.append(
            f"Against {label}: CPU per purchase {at_common}, {account_now / account_then:.2f}x at 3/s "
            f"(goal: at most 0.33x); purchases per second {rate_now / rate_then if rate_then else 0:.2f}x "
            "(goal: at least 3.4x)."
        )
    return lines


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _by_name(columns: list[dict[str, Any]], labels: list[str], title: str, fmt: str) -> list[str]:
    names = sorted({name for column in columns for name in column}, key=lambda n: _order(columns, n))
    lines = [f"| {title} | " + " | ".join(labels) + " |", "|---|" + "---:|" * len(labels)]
    for name in names:
        cells = [fmt.format(column[name]) if name in column else "" for column in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    if fmt != "{}":
        lines.append("| **all** | " + " | ".join(f"**{sum(c.values()):.1f}**" for c in columns) + " |")
    return lines


def _order(columns: list[dict[str, Any]], name: str) -> Any:
    value = columns[-1].get(name, 0)
    return -value if isinstance(value, (int, float)) else name


def _sweep_table(label: str, r: dict[str, Any]) -> list[str]:
    lines = [
        "",
        f"### Sweep: {label}",
        "",
        "| sweep | started/s | completed | completed/s | p50 ms | p99 ms | max ms | errors | CPU ms per purchase |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for index, sweep in enumerate(r["sweeps"], 1):
        for rate, s in sweep:
            lines.append(
                f"| {index} | {rate} | {s['completed']:.0f} | {s['per_second']:.1f} | {s['p50_ms']:.0f} | "
                f"{s['p99_ms']:.0f} | {s['max_ms']:.0f} | {s['errors']:.0f} | {_figure(s.get('cpu_ms'))} |"
            )
    errors = run.common_errors(r["errors"])
    if errors:
        lines += ["", "Errors (in the step that broke the bound), most frequent first:", ""]
        lines += [f"- {count} x `{error}`" for error, count in errors]
    return lines


def _calls(label: str, account: dict[str, Any]) -> list[str]:
    lines = [
        f"### {label} ({account['purchases']} purchases, {account['errors']} failed)",
        "",
        "| callee | method | route | calls per purchase |",
        "|---|---|---|---:|",
    ]
    for (callee, method, uri), count in sorted(account["server"].items(), key=lambda item: -item[1]):
        if count >= 0.05 and not uri.startswith("/actuator"):
            lines.append(f"| {callee} | {method} | `{uri}` | {count:.2f} |")
    lines += ["", "| caller | callee | method | calls per purchase |", "|---|---|---|---:|"]
    for (caller, callee, method), count in sorted(account["client"].items(), key=lambda item: -item[1]):
        if count >= 0.05:
            lines.append(f"| {caller} | {callee} | {method} | {count:.2f} |")
    lines.append("")
    return lines


def _sql(label: str, account: dict[str, Any]) -> list[str]:
    lines = [f"### {label}", "", "| database | statement | per purchase |", "|---|---|---:|"]
    for (database, shape), count in sorted(account["sql"].items(), key=lambda item: -item[1]):
        if count >= 0.05:
            lines.append(f"| {database.split('_')[1]} | `{shape}` | {count:.2f} |")
    lines += ["", "| database | commits | rollbacks | rows returned | rows fetched | inserted | updated |"]
    lines.append("|---|---:|---:|---:|---:|---:|---:|")
    for database, v in sorted(account["pg"].items()):
        lines.append(
            f"| {database.split('_')[1]} | {v['xact_commit']:.1f} | {v['xact_rollback']:.1f} | "
            f"{v['tup_returned']:.0f} | {v['tup_fetched']:.0f} | {v['tup_inserted']:.1f} | {v['tup_updated']:.1f} |"
        )
    lines.append("")
    return lines

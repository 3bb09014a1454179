"""The report: ``bench/results/latest.md`` and ``latest.png`` from the newest result per scale.

Run alone to redo the report from the JSON files: ``python -m bench.report``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SCALE_ORDER = ("10k", "100k", "1m")
WORKLOAD_TITLES = {
    "session_list": "session list (50)",
    "session_page": "session page (200 datasets)",
    "file_listing": "file listing (10 x 1000 files)",
    "doi": "DOI lookup",
    "search": "free-text search",
}
MEMORY_LIMIT_MB = 200


def save(folder: Path, stem: str, latest: str, document: dict[str, Any], table: str) -> Path:
    """A run's document as ``stem.json`` and its table as ``latest`` (markdown), both in
    ``folder`` (made if missing), the table printed; the document's path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.json"
    path.write_text(json.dumps(document, indent=1, default=str) + "\n")
    (folder / latest).write_text(table)
    print(table)
    print(f"wrote {path}")
    return path


def newest_results(directory: Path) -> dict[str, dict[str, Any]]:
    """The newest result file of each scale (file names sort by time)."""
    found: dict[str, dict[str, Any]] = {}
    for scale in SCALE_ORDER:
        files = sorted(directory.glob(f"{scale}-*.json"))
        if files:
            data = json.loads(files[-1].read_text())
            data["_file"] = files[-1].name
            found[scale] = data
    return found


def _median(result: dict[str, Any], key: str) -> float | None:
    entry = result.get("latency", {}).get(key)
    return None if not entry or "median_ms" not in entry else float(entry["median_ms"])


def _p95(result: dict[str, Any], key: str) -> float | None:
    entry = result.get("latency", {}).get(key)
    return None if not entry or "p95_ms" not in entry else float(entry["p95_ms"])


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def _ratio_text(a: float | None, b: float | None) -> str:
    ratio = _ratio(a, b)
    return "-" if ratio is None else f"{ratio:.2f}x"


def latency_table(result: dict[str, Any]) -> list[str]:
    lines = [
        "| workload | caller | raw SQL | raw SQL over HTTP | gateway median / p95 | "
        "gateway / raw | gateway / raw HTTP | PostGraphile median / p95 | PostGraphile / raw |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    workloads = list(dict.fromkeys(k.split("/")[0] for k in result.get("latency", {})))
    for workload in workloads:
        for caller in ("anonymous", "member"):
            raw = _median(result, f"{workload}/{caller}/raw")
            raw_http = _median(result, f"{workload}/{caller}/raw_http")
            gateway = _median(result, f"{workload}/{caller}/gateway")
            gateway_p95 = _p95(result, f"{workload}/{caller}/gateway")
            # PostGraphile has no authorisation: measured once, as nobody.
            pgl = _median(result, f"{workload}/anonymous/postgraphile")
            pgl_p95 = _p95(result, f"{workload}/anonymous/postgraphile")
            error = result["latency"].get(f"{workload}/{caller}/gateway", {}).get("error")
            gateway_text = (
                f"error: {error[:60]}" if error else f"{_fmt(gateway)} / {_fmt(gateway_p95)}"
            )
            pgl_text = f"{_fmt(pgl)} / {_fmt(pgl_p95)}" if pgl is not None else "-"
            if caller == "member" and pgl is not None:
                pgl_text += " (no auth)"
            lines.append(
                f"| {WORKLOAD_TITLES.get(workload, workload)} | {caller} | {_fmt(raw)} | "
                f"{_fmt(raw_http)} | {gateway_text} | **{_ratio_text(gateway, raw)}** | "
                f"{_ratio_text(gateway, raw_http)} | {pgl_text} | {_ratio_text(pgl, raw)} |"
            )
    return lines


def throughput_table(result: dict[str, Any]) -> list[str]:
    lines = [
        "| target | caller | requests/s | median ms | p95 ms | errors | bench client CPU |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for key, entry in result.get("throughput", {}).items():
        _workload, caller, target = key.split("/")
        if "error" in entry:
            lines.append(f"| {target} | {caller} | error: {entry['error'][:80]} | | | | |")
            continue
        lines.append(
            f"| {target} | {caller} | {entry['rps']:.0f} | {_fmt(entry.get('median_ms'))} | "
            f"{_fmt(entry.get('p95_ms'))} | {entry['errors']} | "
            f"{entry['bench_client_cpu_share'] * 100:.0f} % |"
        )
    return lines


def memory_table(result: dict[str, Any]) -> list[str]:
    lines = ["| server | processes | peak RSS per process (MB) |", "| --- | ---: | --- |"]
    for name, entry in result.get("memory", {}).items():
        peaks = ", ".join(f"{v:.0f}" for v in entry["peak_rss_mb_per_process"])
        lines.append(f"| {name} | {entry['processes']} | {peaks} |")
    return lines


def verification_lines(result: dict[str, Any]) -> list[str]:
    lines = []
    for key, entry in result.get("verification", {}).items():
        if "error" in entry:
            lines.append(f"- {key}: **failed**: {entry['error'][:300]}")
            continue
        status = entry["gateway_vs_raw"]
        text = "same JSON as raw SQL" if status == "same" else f"**differs**: {status[:200]}"
        pgl = ""
        if "postgraphile_items" in entry:
            same = "same ids" if entry.get("postgraphile_same_ids") else "different ids"
            pgl = (
                f"; PostGraphile {entry['postgraphile_items']} items "
                f"(total {entry.get('postgraphile_total_count')}), {same}"
            )
        elif "postgraphile_error" in entry:
            pgl = f"; PostGraphile failed: {entry['postgraphile_error'][:200]}"
        errors = (
            f"; GraphQL errors: {entry['graphql_errors'][0][:200]}"
            if entry.get("graphql_errors")
            else ""
        )
        lines.append(
            f"- {key}: gateway {entry['items']} items (total {entry.get('total_count')}), "
            f"{text}{pgl}{errors}"
        )
    return lines


def targets(results: dict[str, dict[str, Any]]) -> list[str]:
    """The issue's targets, each marked reached or not, with the numbers."""
    lines = ["| target | scale | measured | reached |", "| --- | --- | --- | --- |"]

    def row(target: str, scale: str, measured: str, ok: bool | None) -> None:
        mark = "n/a" if ok is None else ("yes" if ok else "**no**")
        lines.append(f"| {target} | {scale} | {measured} | {mark} |")

    for scale, result in results.items():
        for workload in ("session_list", "session_page"):
            for caller in ("anonymous", "member"):
                gateway = _median(result, f"{workload}/{caller}/gateway")
                raw = _median(result, f"{workload}/{caller}/raw")
                pgl = _median(result, f"{workload}/anonymous/postgraphile")
                ratio = _ratio(gateway, raw)
                row(
                    f"{WORKLOAD_TITLES[workload]}, {caller}: median ≤ 1.5x raw SQL",
                    scale,
                    _ratio_text(gateway, raw),
                    None if ratio is None else ratio <= 1.5,
                )
                row(
                    f"{WORKLOAD_TITLES[workload]}, {caller}: median < PostGraphile",
                    scale,
                    f"{_fmt(gateway)} ms vs {_fmt(pgl)} ms",
                    None if gateway is None or pgl is None else gateway < pgl,
                )
        for caller in ("anonymous", "member"):
            gateway = _median(result, f"file_listing/{caller}/gateway")
            raw = _median(result, f"file_listing/{caller}/raw")
            ratio = _ratio(gateway, raw)
            row(
                f"file listing, {caller}: ≤ 2x raw SQL end to end",
                scale,
                _ratio_text(gateway, raw),
                None if ratio is None else ratio <= 2.0,
            )
        gw = result.get("throughput", {}).get("doi/anonymous/gateway", {})
        pg = result.get("throughput", {}).get("doi/anonymous/postgraphile", {})
        if "rps" in gw:
            row(
                "DOI lookup, 32 clients: gateway (2 workers) rps > PostGraphile",
                scale,
                f"{gw['rps']:.0f} vs {pg.get('rps', float('nan')):.0f} req/s",
                None if "rps" not in pg else gw["rps"] > pg["rps"],
            )
        memory = result.get("memory", {}).get("gateway")
        if memory:
            peak = memory["peak_rss_mb_max"]
            row(
                f"gateway memory per worker < {MEMORY_LIMIT_MB} MB",
                scale,
                f"peak {peak:.0f} MB",
                peak < MEMORY_LIMIT_MB,
            )
    small = results.get("10k")
    for scale in ("100k", "1m"):
        large = results.get(scale)
        if small is None or large is None:
            continue
        for workload in ("session_list", "session_page"):
            for caller in ("anonymous", "member"):
                a = _median(small, f"{workload}/{caller}/gateway")
                b = _median(large, f"{workload}/{caller}/gateway")
                ratio = _ratio(b, a)
                row(
                    f"{WORKLOAD_TITLES[workload]}, {caller}: {scale} within 1.3x of 10k",
                    f"10k→{scale}",
                    f"{_fmt(a)} → {_fmt(b)} ms ({_ratio_text(b, a)})",
                    None if ratio is None else ratio <= 1.3,
                )
    return lines


def markdown(results: dict[str, dict[str, Any]]) -> str:
    any_result = next(iter(results.values()))
    machine, versions = any_result.get("machine", {}), any_result.get("versions", {})
    out = [
        "# icat-gateway benchmark",
        "",
        "Written by `scripts/bench` (`python -m bench.run`); see `bench/README.md` for what is "
        "measured. Latencies are medians of sequential operations in milliseconds, end to end "
        "from the benchmark client; ratios are to the raw SQL baseline (asyncpg in the "
        "benchmark process, **no HTTP**). The raw SQL over HTTP column is the same statement "
        "behind a minimal Starlette + asyncpg endpoint served like the gateway. PostGraphile "
        "applies no authorisation, so it is measured once (its member row repeats it).",
        "",
        f"Machine: {machine.get('nproc')} CPUs ({machine.get('cpu_model')}), "
        f"{machine.get('memory_gb')} GB RAM, Linux {machine.get('kernel')}; "
        f"Python {machine.get('python')}, PostgreSQL {any_result.get('postgresql')} "
        f"(max_connections {any_result.get('postgresql_max_connections', '?')}); "
        "everything (client, servers, database) on the same machine.",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".",
        "",
        "## Targets",
        "",
        *targets(results),
    ]
    for scale, result in results.items():
        params = result.get("parameters", {})
        counts = result.get("catalogue", {}).get("counts", {})
        options = result.get("options", {})
        out += [
            "",
            f"## {scale}: {counts.get('sessions')} sessions, {counts.get('datasets')} datasets, "
            f"{counts.get('datafiles')} datafiles",
            "",
            f"Result file `{result['_file']}` ({result.get('started')}); "
            f"{options.get('iterations')} timed operations per workload "
            f"({options.get('file_iterations')} for the file listing) after warm-up. "
            f"Member: `{params.get('member')}` ({params.get('member_roles')} team roles, "
            f"scientist of {params.get('member_beamlines')} beamlines); session "
            f"{params.get('session_id')}; dataset {params.get('dataset_id')} "
            f"({params.get('dataset_files')} files); DOI `{params.get('doi')}`; "
            f"search `{params.get('search')}`.",
            "",
            "### Latency (ms)",
            "",
            *latency_table(result),
            "",
            f"### DOI lookup throughput ({options.get('concurrency')} concurrent clients, "
            f"{options.get('duration')} s, HTTP/1.1 keep-alive)",
            "",
            *throughput_table(result),
            "",
            "### Memory (peak RSS, sampled every 0.25 s during the run)",
            "",
            *memory_table(result),
            "",
            "### Answers checked",
            "",
            *verification_lines(result),
        ]
    out += ["", "## Notes", "", *NOTES]
    return "\n".join(out) + "\n"


NOTES = [
    "- The raw SQL baseline is one hand-written statement per request (JSON built by "
    "PostgreSQL, the gateway's visibility rules, the match of a filter evaluated once for "
    "both the page and the total). It runs in the benchmark process without HTTP, so "
    "ratios to it include the gateway's HTTP, JSON and event-loop costs; the raw SQL over "
    "HTTP column has those too.",
    "- The gateway sorts sessions `STARTDATE DESC NULLS LAST`, and the raw SQL does the same "
    "(same answer); PostGraphile sorts `DESC` with PostgreSQL's default NULLS FIRST, which "
    "can walk the `GW_INVESTIGATION_STARTDATE (STARTDATE, ID)` index backwards; NULLS LAST "
    "cannot (there are no NULL start dates in the demo, so the answers agree).",
    "- PostGraphile has no authorisation: its search also matches embargoed summaries and "
    "keywords (more hits), and every caller gets the same answer.",
    "- The search word is the keyword nearest to 40 sessions: a few dozen hits at 10k, about a "
    "thousand at 100k and 1m (the demo's vocabulary is small); it scans INVESTIGATION with "
    "LIKE on every system (no trigram index).",
    "- The file listing is 10 sequential pages of 1,000 (10,000 of the dataset's 10,002 "
    "files), one operation end to end; each system follows its own cursors.",
    "- Client, servers and PostgreSQL share the machine's CPUs; under 32 concurrent clients "
    "the client's own CPU share is in the throughput table.",
]


def plot(results: dict[str, dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scales = list(results)
    fig, axes = plt.subplots(1, len(scales) + 1, figsize=(6 * (len(scales) + 1), 5), squeeze=False)
    series = (
        ("gateway", "anonymous", "gateway (anonymous)"),
        ("gateway", "member", "gateway (member)"),
        ("raw_http", "anonymous", "raw SQL over HTTP"),
        ("postgraphile", "anonymous", "PostGraphile (no auth)"),
    )
    for ax, scale in zip(axes[0], scales, strict=False):
        result = results[scale]
        workloads = list(dict.fromkeys(k.split("/")[0] for k in result.get("latency", {})))
        width = 0.8 / len(series)
        for n, (target, caller, label) in enumerate(series):
            values = []
            for workload in workloads:
                ratio = _ratio(
                    _median(result, f"{workload}/{caller}/{target}"),
                    _median(result, f"{workload}/{caller}/raw"),
                )
                values.append(ratio or 0.0)
            positions = [i + (n - len(series) / 2 + 0.5) * width for i in range(len(workloads))]
            ax.bar(positions, values, width, label=label)
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.axhline(1.5, color="grey", linestyle="--", linewidth=0.8)
        ax.set_xticks(range(len(workloads)))
        ax.set_xticklabels([w.replace("_", "\n") for w in workloads])
        ax.set_yscale("log")
        ax.set_ylabel("median latency / raw SQL (log)")
        ax.set_title(f"{scale}: latency relative to raw SQL")
        ax.legend(fontsize=8)
    ax = axes[0][-1]
    kinds = (
        ("gateway", "anonymous", "gateway (anonymous)"),
        ("gateway", "member", "gateway (member)"),
        ("postgraphile", "anonymous", "PostGraphile"),
        ("raw_http", "anonymous", "raw SQL over HTTP"),
        ("raw", "anonymous", "raw SQL in process"),
    )
    width = 0.8 / len(kinds)
    for n, (target, caller, label) in enumerate(kinds):
        values = [
            results[scale].get("throughput", {}).get(f"doi/{caller}/{target}", {}).get("rps", 0)
            for scale in scales
        ]
        positions = [i + (n - len(kinds) / 2 + 0.5) * width for i in range(len(scales))]
        ax.bar(positions, values, width, label=label)
    ax.set_xticks(range(len(scales)))
    ax.set_xticklabels(scales)
    ax.set_ylabel("requests/s")
    ax.set_title("DOI lookup, 32 concurrent clients")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_latest(directory: Path) -> tuple[Path, Path]:
    results = newest_results(directory)
    if not results:
        raise SystemExit(f"no results in {directory}")
    markdown_path = directory / "latest.md"
    markdown_path.write_text(markdown(results))
    plot_path = directory / "latest.png"
    plot(results, plot_path)
    return markdown_path, plot_path


if __name__ == "__main__":
    here = Path(__file__).resolve().parent / "results"
    print(*write_latest(here))

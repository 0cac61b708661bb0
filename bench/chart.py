"""``python -m bench.chart [RESULTS.json]``: draw ``docs/performance.png`` and print the
README's performance table, both from one results file (default: bench/results/latest.json).

Needs matplotlib (``pip install -r bench/requirements.txt``); run by hand, the PNG is
committed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bench.harness import REPO, RESULTS

PNG = REPO / "docs" / "performance.png"
LABELS = ("wfsched (default: fork start)", "fork-per-job floor", "bare interpreters")
COLOURS = ("#2b6cb0", "#718096", "#c05621")


def _median(results: dict[str, Any], workload: str) -> dict[str, Any]:
    return results["workloads"].get(workload, {}).get("median", {})


def table(results: dict[str, Any]) -> str:
    """The README table: figures, baselines, ratios, and the target of each workload."""
    w1, w2, w3 = (_median(results, w) for w in ("W1", "W2", "W3"))
    w4, w5 = _median(results, "W4"), _median(results, "W5")
    rows = ["| Workload | wfsched | fork-per-job floor | bare `python -c` one after another "
            "| target |", "|---|---|---|---|---|"]
    if w1:
        rows.append(
            f"| W1 {w1['executions']} no-ops, 5 at once: executions/s "
            f"| {w1['wfsched_per_second']:.0f} ({w1['wfsched_cpu_per_execution'] * 1000:.1f} ms "
            f"CPU each) | {w1['fork_per_second']:.0f} (×{w1['ratio_to_fork']:.2f}) "
            f"| {w1['bare_per_second']:.0f} (×{w1['ratio_to_bare']:.1f}) "
            f"| ≥ 0.5× floor |")
    if w2:
        rows.append(
            f"| W2 {w2['executions']} × {w2.get('seconds', 1):g} s sleeps, 5 at once: makespan "
            f"| {w2['wfsched_makespan']:.2f} s (efficiency {w2['wfsched_efficiency']:.3f}) "
            f"| {w2['fork_makespan']:.2f} s ({w2['fork_efficiency']:.3f}) "
            f"| – | efficiency ≥ 0.98 |")
    for database, figures in sorted(w3.items()):
        insert = figures.get("wfsched_created_to_first_line_ms", float("nan"))
        rows.append(
            f"| W3 latency insert → first line ({database}) "
            f"| {insert:.1f} ms (claim → first line "
            f"{figures['wfsched_claim_to_first_line_ms']:.1f} ms) "
            f"| {figures['fork_latency_ms']:.1f} ms (×{insert / figures['fork_latency_ms']:.1f}) "
            f"| {figures.get('bare_latency_ms', float('nan')):.0f} ms "
            f"| ≤ 2× floor |")
    if w4:
        rows.append(f"| W4 idle scheduler, {w4['seconds']:.0f} s: CPU "
                    f"| {w4['percent_of_one_core']:.2f} % of a core "
                    f"(RSS {w4['scheduler_rss_mb']:.0f} MB + fork server and spare "
                    f"{w4.get('fork_server_rss_mb', float('nan')):.0f} MB) | – | – | < 1 % |")
    if w5:
        rows.append(
            f"| W5 one loop, {w5['workflows']} workflows, {w5['large_executions']:,} vs "
            f"{w5['small_executions']:,} finished executions "
            f"| {w5['tick_ms_large']:.1f} ms vs {w5['tick_ms_small']:.1f} ms "
            f"(×{w5['tick_ratio']:.2f}), {w5['rss_mb_large']:.0f} MB | – | – "
            f"| ≤ 1.5×, < 100 MB |")
    return "\n".join(rows)


def draw(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    w1, w2 = _median(results, "W1"), _median(results, "W2")
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2))
    if w1:
        values = [w1["wfsched_per_second"], w1["fork_per_second"], w1["bare_per_second"]]
        bars = left.bar(LABELS, values, color=COLOURS)
        left.set_yscale("log")
        left.set_title(f"W1: {w1['executions']} no-op executions, 5 at once")
        left.set_ylabel("executions per second (log scale)")
        left.bar_label(bars, labels=[f"{v:.1f}" for v in values])
    if w2:
        values = [w2["wfsched_makespan"], w2["fork_makespan"],
                  w2.get("bare_makespan", w2["fresh_makespan"])]
        bars = right.bar(LABELS, values, color=COLOURS)
        right.axhline(w2["ideal_seconds"], color="black", linestyle="--", linewidth=1)
        right.text(2.4, w2["ideal_seconds"], " ideal", va="bottom", ha="right")
        right.set_title(f"W2: {w2['executions']} × {w2.get('seconds', 1):g} s sleeps, 5 at once")
        right.set_ylabel("makespan, seconds (lower is better)")
        right.bar_label(bars, labels=[f"{v:.1f} s" for v in values])
    for axis in (left, right):
        axis.tick_params(axis="x", labelsize=8)
    figure.suptitle(f"wfsched {results['commit']}, {results['runs']} run(s), medians "
                    f"({results['date']})", fontsize=9)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("results", nargs="?", default=str(RESULTS / "latest.json"))
    parser.add_argument("--png", default=str(PNG))
    args = parser.parse_args()
    results = json.loads(Path(args.results).read_text())
    draw(results, Path(args.png))
    print(table(results))


if __name__ == "__main__":
    main()

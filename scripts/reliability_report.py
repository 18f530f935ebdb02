#!/usr/bin/env python3
"""Turns artifacts/reliability.jsonl (rows recorded by the fault tests) into docs/reliability.md's table.

    .venv/bin/python scripts/reliability_report.py [--rows artifacts/reliability.jsonl] [--doc docs/reliability.md]

The table goes between the `<!-- rows -->` and `<!-- /rows -->` markers; the rest of the document is kept.
When a test recorded the same fault more than once (several runs), the latest row wins.
"""
from __future__ import annotations

import argparse
import json
import platform
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
AREAS = ["model", "capture", "process", "storage", "input", "load", "security"]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", default=str(REPO / "artifacts/reliability.jsonl"))
    ap.add_argument("--doc", default=str(REPO / "docs/reliability.md"))
    args = ap.parse_args()
    rows: dict[tuple[str, str], dict] = {}
    for line in Path(args.rows).read_text().splitlines():
        if line.strip():
            r = json.loads(line)
            rows[(r["area"], r["fault"])] = r
    ordered = sorted(rows.values(), key=lambda r: (AREAS.index(r["area"]) if r["area"] in AREAS else 99, r["test"]))
    out = ["| area | fault or input | what Bedside did | lost | recovery | cases | crashes | test |",
           "|---|---|---|---|---|---|---|---|"]
    for r in ordered:
        rec = "-" if r["recovery_s"] is None else f"{r['recovery_s']} s"
        cases = "-" if r["cases"] is None else f"{r['cases']:,}"
        test = r["test"].replace("Tests/e2e/", "")
        out.append(f"| {r['area']} | {r['fault']} | {r['did']} | {r['lost']} | {rec} | {cases} | {r['crashes']} | `{test}` |")
    crashes = sum(r["crashes"] for r in ordered)
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    last = max((r["at"] for r in ordered), default="?")
    out.append("")
    out.append(f"{len(ordered)} rows, orchestrator crashes across the matrix: **{crashes}**. From a run of the suite "
               f"on {last} (commit {commit}, {platform.machine()}, {subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} CPUs).")
    doc = Path(args.doc)
    text = doc.read_text() if doc.exists() else "# Reliability\n\n<!-- rows -->\n<!-- /rows -->\n"
    head, _, rest = text.partition("<!-- rows -->")
    _, _, tail = rest.partition("<!-- /rows -->")
    doc.write_text(head + "<!-- rows -->\n" + "\n".join(out) + "\n<!-- /rows -->" + tail)
    print(f"{doc}: {len(ordered)} rows, {crashes} crashes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The reliability table (docs/reliability.md) is filled from test runs, not written by hand.

Each fault test calls `record(...)` with what it tried, what Bedside did, what was lost (counts) and how long
recovery took; rows go to artifacts/reliability.jsonl (one JSON object per line, appended), and
`scripts/reliability_report.py` turns the file into the table.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RESULTS = Path(os.environ.get("BEDSIDE_RELIABILITY_OUT", REPO / "artifacts/reliability.jsonl"))


def record(area: str, fault: str, did: str, lost: str, recovery_s: float | None = None,
           cases: int | None = None, crashes: int = 0) -> None:
    """One row: `area` (model, capture, process, storage, input, load, security), the fault or input, what
    Bedside did, what was lost ("0 frames, 0 s of recording, 2 predictions"), recovery time in seconds,
    the number of cases (fuzzing, route x credential matrices) and orchestrator crashes (must be 0)."""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    row = {
        "area": area, "fault": fault, "did": did, "lost": lost,
        "recovery_s": None if recovery_s is None else round(recovery_s, 2),
        "cases": cases, "crashes": crashes,
        "test": os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0],
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    with RESULTS.open("a") as f:
        f.write(json.dumps(row) + "\n")

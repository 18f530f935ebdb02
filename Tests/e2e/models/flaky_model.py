"""Misbehaving research code for the supervision tests: behaviour chosen by BEDSIDE_TEST_MODE."""
import os
import time

MODE = os.environ.get("BEDSIDE_TEST_MODE", "ok")
_calls = 0


def predict(image):
    global _calls
    _calls += 1
    if MODE == "crash" and _calls == 3:
        os._exit(1)  # the whole interpreter dies, as a segfaulting extension would
    if MODE == "hang" and _calls == 3:
        time.sleep(3600)
    if MODE == "raise" and _calls % 2 == 0:
        raise ValueError("researcher bug on even frames")
    if MODE == "garbage" and _calls % 2 == 0:
        return {"plane": {"name": "head", "status": "maybe"}, "score": float("nan")}
    return {"plane": {"name": "none", "status": "unknown", "score": 0.0}, "extra": {"calls": _calls, "mean": float(image.mean())}}

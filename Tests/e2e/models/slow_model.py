"""A model that takes 300 ms per frame, like a heavy network on a CPU-only box."""
import time


def predict(image):
    time.sleep(0.3)
    return {"plane": {"name": "none", "status": "unknown", "score": 0.0}, "extra": {"mean": float(image.mean())}}

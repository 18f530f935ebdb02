"""A model that takes one second per frame (like PCBM on a clinic mini PC), sleeping so replicas don't fight for CPU."""
import time


def predict(image):
    time.sleep(1.0)
    return {"plane": {"name": "none", "status": "unknown", "score": 0.0}}

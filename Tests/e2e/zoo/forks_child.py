import os
import time

_child = None


def predict(image):
    global _child
    if _child is None:
        _child = os.fork()
        if _child == 0:
            time.sleep(3600)  # a helper process the research code forgot about
            os._exit(0)
        with open(os.environ["ZOO_CHILD_PID_FILE"], "w") as f:
            f.write(str(_child))
    return {"plane": {"name": "none", "status": "unknown"}}

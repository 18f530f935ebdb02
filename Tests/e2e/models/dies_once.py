"""Dies (exit 1) on its first frame ever, answers afterwards: DIES_ONCE_MARKER remembers across restarts."""
import os


def predict(image):
    marker = os.environ["DIES_ONCE_MARKER"]
    if not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(1)
    return {"plane": {"name": "head", "status": "standard"}}

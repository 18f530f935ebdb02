"""Two models for a pipeline: `detect` runs on frames, `refine` gets each frame with detect's answer."""
__version__ = "0.3.1"
CLASSES = ["background", "skull"]
CONCEPTS = ["skull visible"]


def detect(image):
    return {"plane": {"name": "head", "status": "standard"}, "extra": {"mean": float(image.mean())}}


def refine(image, upstream=None):
    if upstream is None:
        raise RuntimeError("refine needs an upstream answer")
    return {
        "plane": upstream["result"]["plane"],
        "extra": {"upstream_model": upstream["model"], "upstream_seq": upstream["seq"],
                  "upstream_mean": upstream["result"]["extra"]["mean"], "mean": float(image.mean())},
    }


def fails(image):
    raise RuntimeError("no answer, ever")

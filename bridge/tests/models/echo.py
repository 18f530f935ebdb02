"""Test model: reports what it saw; the first pixel picks a misbehaviour."""

import sys

import numpy as np


def predict(image):
    print("researcher print to stdout", image.shape)
    print("researcher print to stderr", file=sys.stderr)
    first = int(image.flat[0])
    if first == 13:
        raise ValueError("unlucky\npixel")
    if first == 14:
        return {"plane": {"name": "head", "status": "standard", "score": float("nan")}}
    if first == 15:
        return [1, 2, 3]
    if first == 16:
        return {"plane": {"name": "head", "status": "sideways"}}
    if first == 17:
        sys.exit("leaving")
    return {
        "plane": {"name": "head", "status": "non-standard", "score": np.float32(0.5)},
        "extra": {
            "sum": image.sum(dtype=np.uint64),
            "shape": image.shape,
            "writeable": image.flags.writeable,
            "dtype": str(image.dtype),
            "corner": image[:2, :2],
        },
    }

"""Bedside entry for PlaneNet, a PyTorch-style model class with a weights file.

    entry: bedside_entry.py:PlaneClassifier    # a class: Bedside makes one instance, calls its
                                               # setup() once, then calls the instance per frame

Loading the weights is slow and must happen once, in setup(), not per frame and not at import.
This file only adapts: it builds the network exactly as the lab's evaluation code does, and turns
class probabilities into the result Bedside shows. planenet/ and weights/ are not modified.
"""

import os

import numpy as np
import planenet  # beside this file: Bedside puts its folder first on sys.path

HERE = os.path.dirname(os.path.abspath(__file__))
WEIGHTS = os.path.join(HERE, "weights", "planenet.npz")  # not relative to the current folder

STANDARD_AT = 0.9  # a classifier only knows "which plane": its confidence stands in for the status


class PlaneClassifier:
    # Read by Bedside (never required): shown by `bedside check` and recorded in session.json.
    version = planenet.__version__

    def __init__(self):
        self.net = None  # nothing slow here: Bedside reports import, setup and per-frame time separately

    def setup(self):
        ckpt = planenet.load_checkpoint(WEIGHTS, map_location="cpu")  # torch.load(WEIGHTS, map_location="cpu")
        self.net = planenet.PlaneNet(**ckpt["config"])
        self.net.load_state_dict(ckpt["state_dict"])
        self.net.eval()
        # (not `self.classes`: Bedside reads an attribute of that name as segmentation class names)
        self.outputs = list(ckpt["classes"])  # ["none", "head", "abdomen", "femur"]
        self.planes = [c for c in self.outputs if c != "none"]  # read by Bedside: the planes it can name
        self.mean = np.float32(ckpt["normalise"]["mean"])
        self.std = np.float32(ckpt["normalise"]["std"])
        self.size = (ckpt["config"]["height"], ckpt["config"]["width"])

    def __call__(self, image):
        """(H, W) uint8 grey frame -> plane and status; the class probabilities go to `extra`."""
        if image.shape != self.size:
            raise ValueError(f"PlaneNet takes {self.size[0]}x{self.size[1]} (height x width) frames, got "
                             f"{image.shape}: set input.width/height in bedside.yaml to {self.size[1]}/{self.size[0]}")
        x = (image.astype(np.float32) / 255.0 - self.mean) / self.std
        x = x[None, None]  # (1, 1, H, W): a batch of one grey frame, as in training
        prob = planenet.softmax(self.net(x))[0]  # with torch: `with torch.no_grad():` around the call
        best = int(prob.argmax())
        name, score = self.outputs[best], float(prob[best])
        if name == "none":
            status = "unknown"
        else:
            status = "standard" if score >= STANDARD_AT else "close"
        return {
            "plane": {"name": name, "status": status, "score": round(score, 3)},
            # Not a key the page knows: passed through under `extra` and kept in predictions.jsonl.
            "probabilities": {c: round(float(p), 4) for c, p in zip(self.outputs, prob)},
        }

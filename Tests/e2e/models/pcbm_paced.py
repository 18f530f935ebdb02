"""PCBM's pace and shape without PyTorch: 1.2 s per frame (BEDSIDE_TEST_DELAY_S), sleeping so it costs no CPU.

BEDSIDE_TEST_RAW=1 returns PCBM's own raw dict (numpy arrays: a label map, 27 concept values, 8 class logits)
instead of Bedside's result shape: the bridge refuses it on every frame.
"""
import os
import time

import numpy as np

DELAY_S = float(os.environ.get("BEDSIDE_TEST_DELAY_S", "1.2"))
RAW = os.environ.get("BEDSIDE_TEST_RAW") == "1"


def predict(image):
    time.sleep(DELAY_S)
    if RAW:
        return {"segmentation": np.zeros((224, 288), dtype=np.uint8), "concepts": np.linspace(0, 1, 27),
                "logits": np.zeros(8, dtype=np.float32)}
    return {"plane": {"name": "head", "status": "standard", "score": 0.8},
            "guidance": {"text": "hold still", "arrow": "none"}}

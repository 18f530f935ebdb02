"""Bedside entry for femur_biometry.py, a script the lab runs from the command line.

    setup: bedside_entry.py:setup      # once: the script's own defaults and its calibration file
    entry: bedside_entry.py:predict    # per frame: predict(image, state)

femur_biometry.py is imported, not run. Bedside imports this file by its path with its folder first
on sys.path, so `import femur_biometry` finds the script beside it, and Python runs the script's
top level under the module name `femur_biometry`: its `if __name__ == "__main__":` block (argparse,
reading a folder of files, writing a CSV) does not run. Only its functions are reused.
The script is not modified; tests/test_examples.py checks that it is byte for byte the file
listed in examples/UNTOUCHED.sha256.
"""

import os

import femur_biometry as script
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

# Turning the script's measurements into what the tablet shows is the adapter's job, and these
# thresholds are the researcher's choice (here: tuned on Bedside's phantom, not on patients).
HORIZONTAL_DEG = 10.0  # |angle| at or below this: the femur lies level
FULL_LENGTH_MM = 24.0  # shorter: the shaft is cut by the scan plane (foreshortened)
CLASSES = ["background", "femur"]
PLANES = ["femur"]
CONCEPTS = ["femur_visible", "femur_horizontal", "femur_both_ends", "femur_full_length"]


def setup():
    """The script's own defaults, from its own argument parser, without running main()."""
    args = script.build_parser().parse_args(["(live frames from Bedside)"])
    # The script opens calibration.json relative to the current folder; Bedside's worker runs in the
    # folder of bedside.yaml, so name the file beside the script instead of relying on that.
    calibration = args.calibration
    if not os.path.isabs(calibration):
        calibration = os.path.join(HERE, calibration)
    return {"args": args, "mm_per_pixel": script.load_calibration(calibration)}


def _ramp(x, lo, hi):
    """0 at `lo`, 10 at `hi`, linear between (lo > hi reverses it)."""
    return float(10.0 * min(1.0, max(0.0, (x - lo) / (hi - lo))))


def predict(image, state):
    """One grey frame (H, W) uint8 -> plane, concepts, label map, guidance, and the length in `extra`."""
    args = state["args"]
    found = script.measure_femur(image, args.threshold, args.min_area, args.min_elongation, args.min_thickness)
    labels = np.zeros(image.shape[:2], np.uint8)
    if found is None:
        return {
            "plane": {"name": "none", "status": "unknown", "score": 0.0},
            "concepts": [{"name": n, "plane": "femur", "score": 0.0, "present": False} for n in CONCEPTS],
            "segmentation": {"labels": labels, "classes": CLASSES},
            "guidance": {"text": "no femur in view: sweep slowly along the thigh", "arrow": None},
        }
    ys, xs = found["pixels"]
    labels[ys, xs] = 1
    angle = found["angle_deg"]
    length_mm = found["length_px"] * state["mm_per_pixel"]
    scores = {
        "femur_visible": 10.0,
        "femur_horizontal": _ramp(abs(angle), 2 * HORIZONTAL_DEG, HORIZONTAL_DEG),
        "femur_both_ends": 0.0 if found["clipped"] else 10.0,
        "femur_full_length": _ramp(length_mm, 0.6 * FULL_LENGTH_MM, FULL_LENGTH_MM),
    }
    concepts = [{"name": n, "plane": "femur", "score": round(s, 2), "present": s >= 5.0} for n, s in scores.items()]
    missing = [c["name"] for c in concepts if not c["present"]]
    if not missing:
        guidance = {"text": f"femur {length_mm:.1f} mm: hold still and freeze", "arrow": None}
    elif "femur_horizontal" in missing:
        # angle > 0: the right end is lower; rotating the probe anticlockwise levels it
        guidance = {"text": f"femur steep ({angle:+.0f} deg): level the probe",
                    "arrow": "rotate-ccw" if angle > 0 else "rotate-cw"}
    elif "femur_both_ends" in missing:
        guidance = {"text": "an end of the femur is cut off: centre it", "arrow": None}
    else:
        guidance = {"text": "femur foreshortened: tilt to show the whole shaft", "arrow": None}
    return {
        "plane": {"name": "femur", "status": "close" if missing else "standard",
                  "score": round(sum(scores.values()) / (10.0 * len(scores)), 3)},
        "concepts": concepts,
        "segmentation": {"labels": labels, "classes": CLASSES},
        "guidance": guidance,
        # Not a key the page knows: passed through under `extra` and kept in predictions.jsonl.
        "femur_length_mm": round(length_mm, 1),
        "femur_angle_deg": round(angle, 1),
    }

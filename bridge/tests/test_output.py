"""A research function's own return value mapped by the `output:` block (bridge/bridge/output.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bridge.core import ResultError, convert_result
from bridge.output import OutputConfigError, OutputMap

PLANES = ["head", "abdomen", "femur", "thorax"]
CLASSES = [[p, s] for p in PLANES for s in ("standard", "non-standard")]  # 8 = 4 planes x {standard, non-standard}
SEG_CLASSES = [f"c{i}" for i in range(14)]
CONCEPTS = [f"k{i}" for i in range(27)]

PCBM = {
    "segmentation": {"from": "seg", "classes": SEG_CLASSES},
    "concepts": {"from": "concepts", "names": CONCEPTS, "scale": "probability", "mask": "concept_mask"},
    "plane": {"from": "logits", "kind": "logits", "classes": CLASSES},
}


def pcbm_output(best: int = 2) -> dict:
    """PCBM's raw dict: a 224x288 label map (as per-class scores, batch of one), 27 concept values, 8 logits."""
    scores = np.zeros((1, 14, 224, 288), dtype=np.float32)
    scores[0, 3, 100:120, 140:180] = 5.0  # class 3 in a box, background elsewhere
    scores[0, 0] = 1.0
    logits = np.full((1, 8), -2.0, dtype=np.float32)
    logits[0, best] = 3.0
    mask = np.zeros(27, dtype=bool)
    mask[:9] = True  # only the current plane's concepts apply
    return {"seg": scores, "concepts": np.linspace(0, 1, 27)[None, :], "logits": logits, "concept_mask": mask}


def test_pcbm_raw_dict_becomes_bedsides_result_with_config_alone() -> None:
    m = OutputMap.from_json(json.dumps(PCBM))
    result = convert_result(m.apply(pcbm_output(best=2)))  # class 2: abdomen, standard
    assert result["plane"]["name"] == "abdomen" and result["plane"]["status"] == "standard"
    assert 0.5 < result["plane"]["score"] <= 1 and result["plane"]["class"] == 2
    seg = result["segmentation"]
    assert (seg["width"], seg["height"]) == (288, 224) and seg["classes"] == SEG_CLASSES and seg["encoding"] == "rle"
    concepts = result["concepts"]
    assert [c["name"] for c in concepts] == CONCEPTS[:9], "concepts the mask leaves out are not shown"
    assert concepts[0]["score"] == 0.0 and concepts[0]["present"] is False
    assert all(0 <= c["score"] <= 10 for c in concepts), "probabilities show on the page's 0-10 bars"
    non_standard = convert_result(m.apply(pcbm_output(best=5)))["plane"]  # class 5: femur, non-standard
    assert (non_standard["name"], non_standard["status"]) == ("femur", "close")


def test_tuples_indices_labels_and_a_tensor_like_value() -> None:
    class Tensor:
        """What the bridge sees of a torch tensor: detach, cpu, numpy (torch itself is not imported)."""

        def __init__(self, a: np.ndarray) -> None:
            self.a = a

        def detach(self) -> "Tensor":
            return self

        def cpu(self) -> "Tensor":
            return self

        def numpy(self) -> np.ndarray:
            return self.a

    labels = np.zeros((4, 6), dtype=np.int64)
    labels[1, 2] = 1
    m = OutputMap.from_json(json.dumps({
        "segmentation": "0",
        "plane": {"from": "1", "kind": "index", "classes": [["none", "unknown"], ["head", "standard"]]},
        "concepts": {"from": "2.values", "names": ["a", "b"], "scale": "score"},
        "guidance": {"from": "2.hint"},
    }))
    out = convert_result(m.apply((Tensor(labels), 1, {"values": [7.5, 2.0], "hint": "tilt left"})))
    assert out["plane"] == {"name": "head", "status": "standard", "class": 1}
    assert [c["present"] for c in out["concepts"]] == [True, False]
    assert out["guidance"] == {"text": "tilt left"}
    assert out["segmentation"]["data"]  # an RLE label map


@pytest.mark.parametrize(("spec", "said"), [
    ({"segmentation": {"from": "seg", "colours": []}}, "output.segmentation.colours is not a setting"),
    ({"concepts": {"from": "c"}}, "output.concepts.names should be a list"),
    ({"concepts": {"from": "c", "names": ["a"], "scale": "percent"}}, "use probability (0-1) or score (0-10)"),
    ({"plane": {"from": "p", "classes": [["head", "good"]]}}, "[plane name, standard | non-standard | unknown]"),
    ({"plane": {"from": "p", "kind": "argmax", "classes": [["head", "standard"]]}}, "use logits, probabilities or index"),
    ({"heatmap": "h"}, "output.heatmap is not a part Bedside shows"),
])
def test_a_bad_block_names_the_key_and_the_fix(spec: dict, said: str) -> None:
    with pytest.raises(OutputConfigError, match=None) as e:
        OutputMap.from_json(json.dumps(spec))
    assert said in str(e.value)


@pytest.mark.parametrize(("value", "said"), [
    ({"seg": np.zeros((2, 2)), "concepts": np.zeros(27), "logits": np.zeros(8)}, "has no 'concept_mask'"),
    ({"seg": np.zeros((2, 2)), "concepts": np.zeros(5), "logits": np.zeros(8), "concept_mask": np.ones(5)},
     "has shape (5,), but output.concepts.names lists 27"),
    ({"seg": np.zeros((2, 2)), "concepts": np.zeros(27), "logits": np.zeros(7), "concept_mask": np.ones(27)},
     "output.plane.classes lists 8"),
    ({"seg": np.full((2, 2), np.nan), "concepts": np.zeros(27), "logits": np.zeros(8), "concept_mask": np.ones(27)},
     "holds fractions"),
    ("not a dict", "cannot look up 'seg' in a str"),
    ({"seg": np.zeros((2, 2)), "concepts": np.full(27, 1.7), "logits": np.zeros(8), "concept_mask": np.ones(27)},
     "(k0) is 1.7, outside scale: probability (0 to 1): logits, not probabilities? Apply a sigmoid, or use scale: score"),
])
def test_a_return_value_that_does_not_fit_is_an_answer_error_naming_what_is_wrong(value: object, said: str) -> None:
    m = OutputMap.from_json(json.dumps(PCBM))
    with pytest.raises(ResultError) as e:
        m.apply(value)
    assert said in str(e.value)


def test_the_block_declares_the_models_names_for_ready() -> None:
    info = OutputMap.from_json(json.dumps(PCBM)).declares()
    assert info == {"classes": SEG_CLASSES, "concepts": CONCEPTS, "planes": PLANES}


def test_scores_on_a_0_to_10_scale_are_shown_as_they_are_and_checked_against_10() -> None:
    spec = {"concepts": {"from": "c", "names": ["a", "b"], "scale": "score"}}
    m = OutputMap.from_json(json.dumps(spec))
    concepts = convert_result(m.apply({"c": np.array([7.5, 2.0])}))["concepts"]
    assert [(c["score"], c["present"]) for c in concepts] == [(7.5, True), (2.0, False)]
    with pytest.raises(ResultError) as e:
        m.apply({"c": np.array([12.0, 2.0])})
    assert "(a) is 12, outside scale: score (0 to 10): the page's bars go from 0 to 10" in str(e.value)

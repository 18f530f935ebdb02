"""A PCBM-shaped PyTorch model, written as research code is: it returns its own tensors.

An observer (a small conv net) gives 14-class segmentation scores over the 224x288 grey input, a conceiver 27
concept probabilities and their plane mask, a predictor 8 class logits (4 planes x {standard, non-standard}).
No Bedside result shape anywhere: the model's `output:` block maps it (Tests/e2e/test_cadence.py).

Like PCBM's backbones, its constructor downloads pretrained weights from the Hugging Face hub when
PCBM_WEIGHTS_REPO names a repository (the tests point HF_ENDPOINT at a loopback fake hub); otherwise the
weights are random (seeded). It leaves torch's thread count alone: Bedside sets it (`threads:`).
"""
import os

import torch
from torch import nn

torch.manual_seed(0)
WEIGHTS_FILE = "pcbmish.pt"


class PCBMish(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        # PCBM_DEPTH extra 32-channel 3x3 layers make it as heavy as PCBM on CPU (about 30 ms each on one core
        # of the test machine): scripts/bench_load.py --model torch uses 40 for a model of about 1.2 s.
        depth = int(os.environ.get("PCBM_DEPTH", "0"))
        width = 32 if depth else 8
        layers = [nn.Conv2d(1, width, 3, padding=1), nn.ReLU()]
        for _ in range(depth):
            layers += [nn.Conv2d(width, width, 3, padding=1), nn.ReLU()]
        self.observer = nn.Sequential(*layers, nn.Conv2d(width, 14, 1))
        self.conceiver = nn.Sequential(nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(14 * 16, 27))
        self.predictor = nn.Linear(27, 8)
        with torch.no_grad():
            self.predictor.weight.zero_()
            self.predictor.bias.copy_(torch.tensor([4.0, 0, 0, 0, 0, 0, 0, 0]))  # head, standard

    def forward(self, x: torch.Tensor) -> dict:
        seg = self.observer(x)
        concepts = torch.sigmoid(self.conceiver(seg))
        mask = torch.zeros(27, dtype=torch.bool)
        mask[:9] = True  # the head plane's concepts
        return {"seg": seg, "concepts": concepts, "logits": self.predictor(concepts), "concept_mask": mask}


def pretrained() -> PCBMish:
    model = PCBMish()
    repo = os.environ.get("PCBM_WEIGHTS_REPO")
    if repo:
        from huggingface_hub import hf_hub_download

        path = hf_hub_download(repo_id=repo, filename=WEIGHTS_FILE)
        model.load_state_dict(torch.load(path, map_location="cpu"))
    return model.eval()


def save_weights(path: str) -> None:
    """The weights the fake hub serves: the seeded model's own."""
    torch.save(PCBMish().state_dict(), path)


MODEL = pretrained()


def predict(image):
    x = torch.from_numpy(image).float().div(255.0)[None, None]  # 1x1xHxW
    with torch.no_grad():
        return MODEL(x)

"""A PCBM-shaped PyTorch model with random weights, written as research code is: it returns its own tensors.

An observer (a small conv net) gives 14-class segmentation scores over the 224x288 grey input, a conceiver 27
concept probabilities and their plane mask, a predictor 8 class logits (4 planes x {standard, non-standard}).
No Bedside result shape anywhere: the model's `output:` block maps it (Tests/e2e/test_cadence.py).
"""
import torch
from torch import nn

torch.manual_seed(0)
torch.set_num_threads(1)


class PCBMish(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.observer = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 14, 1))
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


MODEL = PCBMish().eval()


def predict(image):
    x = torch.from_numpy(image).float().div(255.0)[None, None]  # 1x1xHxW
    with torch.no_grad():
        return MODEL(x)

"""In-place distillation for the supernet: the best path so far teaches the sampled one.

In-place distillation (Yu and Huang, "Universally Slimmable Networks and Improved Training
Techniques", ICCV 2019; used by BigNAS, Yu et al., ECCV 2020): at every step the largest network
is trained on the labels and the sampled sub-network on the largest one's soft predictions, which
the papers find rank and train sub-networks better than labels alone. Mixers have no size order,
so there is no largest path here. The teacher is the best path so far instead (an interpretation,
ours): for every block, the candidate whose sampled steps had the lowest moving average of the
training loss, and T likewise; it is chosen again every `REFRESH` steps.

A step then trains two paths: the teacher on the labels (cross-entropy, the study's label
smoothing and mixing) and the sampled path on the teacher's predictions (soft cross-entropy to the
teacher's detached softmax; no labels). It costs about twice a plain step.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn.functional as F

#: Steps between two choices of the teacher: choosing reads the averages back from the device.
REFRESH = 20
#: Decay of the moving average of each candidate's training loss (about the last 100 of its steps).
DECAY = 0.99


class BestSoFar:
    """Per choice dimension (every block, then T), a moving average of the training loss of the steps
    that drew each candidate; `best()` the candidate indices with the lowest (unseen ones last)."""

    def __init__(self, sizes: Sequence[int]):
        self.sizes = [int(m) for m in sizes]
        self.average = [torch.zeros(m) for m in self.sizes]
        self.seen = [[0] * m for m in self.sizes]

    def credit(self, picks: Sequence[int], loss: torch.Tensor) -> None:
        """Record `loss` (a detached scalar, on any device) for every candidate of the path `picks`."""
        loss = loss.detach().float()
        for d, p in enumerate(picks):
            avg = self.average[d]
            if avg.device != loss.device:
                self.average[d] = avg = avg.to(loss.device)
            # In place and without reading the value back: no device sync on a GPU.
            avg[p] = loss if self.seen[d][p] == 0 else DECAY * avg[p] + (1 - DECAY) * loss
            self.seen[d][p] += 1

    def best(self) -> list[int]:
        out = []
        for avg, seen in zip(self.average, self.seen):
            values = avg.tolist()
            out.append(min(range(len(values)), key=lambda i: (seen[i] == 0, values[i])))
        return out

    def state(self) -> dict:
        return {"average": [a.tolist() for a in self.average], "seen": [list(s) for s in self.seen]}

    def load(self, state: dict) -> None:
        if [len(s) for s in state["seen"]] != self.sizes:
            raise ValueError(f"distillation state over {[len(s) for s in state['seen']]} candidates, "
                             f"but the supernet has {self.sizes}")
        self.average = [torch.tensor(a, dtype=torch.float32) for a in state["average"]]
        self.seen = [list(map(int, s)) for s in state["seen"]]


def soft_cross_entropy(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the student against the teacher's softmax (the teacher gets no gradient)."""
    target = F.softmax(teacher_logits.detach().float(), dim=1)
    return -(target * F.log_softmax(student_logits.float(), dim=1)).sum(dim=1).mean()


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, target: torch.Tensor,
                      criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """The step's loss: the teacher on the labels, the student on the teacher."""
    return criterion(teacher_logits, target) + soft_cross_entropy(student_logits, teacher_logits)

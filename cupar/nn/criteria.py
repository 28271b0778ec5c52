"""Loss modules with torch's names (`CrossEntropyLoss`, `NLLLoss`, `MSELoss`,
`BCEWithLogitsLoss`) as a training step uses them: each writes its call into the generated
step (`expr`), checks a batch's targets before the step runs (`check`), and, for
classification, counts the rows predicted right (`correct`) in the same program.

    step = nn.TrainStep(model, nn.CrossEntropyLoss(label_smoothing=0.1), opt)

`as_loss` also takes a name ("cross_entropy", "mse", ...), a function of
`cupar.nn.functional` (called with torch's defaults), or any `@parallel` function
`(output, target) -> float`.
"""

from __future__ import annotations

import numpy as np

from cupar.dsl.decorator import ParallelFunction, caller_loc
from cupar.errors import CuparTypeError, CuparValueError

from . import functional as F


class Loss:
    classification = False
    call = ""

    def expr(self, out: str, y: str) -> str:
        return f"{self.call}({out}, {y})"

    def names(self) -> dict:
        return {}

    def correct(self, out: str, y: str) -> str:
        return f"F.correct_rows({out}, {y})"

    def check(self, x, y) -> None:
        """Refuse targets that do not fit the batch, at the user's line."""
        if len(x) != len(y):
            raise CuparValueError(f"the batch has {len(x)} inputs but {len(y)} targets",
                                  caller_loc(), "pass one target per input row")

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class ClassificationLoss(Loss):
    classification = True

    def check(self, x, y) -> None:
        super().check(x, y)
        if isinstance(y, np.ndarray):
            if y.dtype.kind not in "iu":
                raise CuparTypeError(f"class labels must be integers, not {y.dtype}",
                                     caller_loc(), "pass labels as an int64 (or int32) array")
            if y.size and y.min() < 0:
                raise CuparValueError(f"a class label is negative ({y.min()})", caller_loc(),
                                      "labels are class numbers 0 .. classes - 1")


class CrossEntropyLoss(ClassificationLoss):
    """torch.nn.CrossEntropyLoss from logits, mean over the batch, optional smoothing."""

    def __init__(self, label_smoothing: float = 0.0):
        if not 0.0 <= label_smoothing <= 1.0:
            raise CuparValueError(f"label_smoothing must lie in [0, 1], not {label_smoothing}",
                                  caller_loc(), "e.g. label_smoothing=0.1")
        self.label_smoothing = float(label_smoothing)

    def expr(self, out: str, y: str) -> str:
        if not self.label_smoothing:
            return f"F.cross_entropy_plain({out}, {y})"
        return f"F.cross_entropy({out}, {y}, {self.label_smoothing!r})"

    def __call__(self, out, y):
        if not self.label_smoothing:
            return F.cross_entropy_plain(out, y)
        return F.cross_entropy(out, y, self.label_smoothing)

    def __repr__(self) -> str:
        return f"CrossEntropyLoss(label_smoothing={self.label_smoothing})"


class NLLLoss(ClassificationLoss):
    call = "F.nll_loss"

    def __call__(self, out, y):
        return F.nll_loss(out, y)


class MSELoss(Loss):
    call = "F.mse_loss"

    def __call__(self, out, y):
        return F.mse_loss(out, y)


class BCEWithLogitsLoss(Loss):
    call = "F.binary_cross_entropy_with_logits"

    def __call__(self, out, y):
        return F.binary_cross_entropy_with_logits(out, y)


class CustomLoss(Loss):
    """A user's @parallel function (output, target) -> float."""

    def __init__(self, fn: ParallelFunction):
        self.fn = fn

    def expr(self, out: str, y: str) -> str:
        return f"user_loss({out}, {y})"

    def names(self) -> dict:
        return {"user_loss": self.fn}

    def __call__(self, out, y):
        return self.fn(out, y)


NAMED = {"cross_entropy": CrossEntropyLoss, "nll": NLLLoss, "nll_loss": NLLLoss,
         "mse": MSELoss, "mse_loss": MSELoss,
         "binary_cross_entropy_with_logits": BCEWithLogitsLoss,
         "bce_with_logits": BCEWithLogitsLoss}
FUNCTIONS = {F.cross_entropy: CrossEntropyLoss, F.nll_loss: NLLLoss, F.mse_loss: MSELoss,
             F.binary_cross_entropy_with_logits: BCEWithLogitsLoss}


def as_loss(loss) -> Loss:
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str) and loss in NAMED:
        return NAMED[loss]()
    if loss in FUNCTIONS:
        return FUNCTIONS[loss]()
    if isinstance(loss, ParallelFunction):
        return CustomLoss(loss)
    raise CuparTypeError(f"unknown loss {loss!r}", caller_loc(),
                         f"use a loss module (nn.CrossEntropyLoss()), one of "
                         f"{sorted(NAMED)}, or a @parallel function (output, target) -> float")

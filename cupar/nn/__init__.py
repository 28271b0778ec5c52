"""`cupar.nn`: a neural-network library written in cupar's own language.

Its core is `cupar.nn.functional` (`import cupar.nn.functional as F`): each layer,
activation and loss a `@parallel` function over plain arrays, with torch's names;
gradients come from `cupar.grad`.

    import cupar.nn.functional as F
    h = F.relu(F.linear(x, w, b))                 # w stored (in, out)
    loss = F.cross_entropy(h, labels, 0.0)
"""

from . import functional  # noqa: F401

__all__ = ["functional"]

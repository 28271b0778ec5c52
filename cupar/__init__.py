"""cupar: a data-parallel language embedded in Python (after Copperhead).

    import numpy as np
    from cupar import *

    @parallel
    def axpy(a, x, y):
        return map(lambda xi, yi: a * xi + yi, x, y)

    axpy(np.float32(2), x, y)                        # at the default place (cpu)
    with cupar.places.here:                          # the pure-Python interpreter
        axpy(np.float32(2), x, y)
    cupar.explain(axpy, np.float32(2), x, y)         # every compiler stage as text
    cupar.grad(loss, argnums=(0, 1))(w, b, x, y)     # gradients, by a compiler transform
"""

from .dsl import places  # noqa: F401  (cupar.places.here, .cpu, .gpu0)
from .dsl.decorator import parallel
from .dsl.derivatives import grad, value_and_grad, vjp  # noqa: F401
from .dsl.explain import explain  # noqa: F401
from .dsl.notebook import install_traceback_handler as _install_traceback_handler
from .dsl.operators import *  # noqa: F401,F403  (operators, math, casts, bounds)
from .dsl.operators import OPERATOR_NAMES
from .dsl.prelude import *  # noqa: F401,F403  (map, reduce, scan, ...)
from .dsl.prelude import __all__ as _SEQUENCE_NAMES

__version__ = "0.1.0"

_install_traceback_handler()  # in IPython or Jupyter: cupar errors without cupar's frames

PRELUDE = tuple(_SEQUENCE_NAMES) + tuple(OPERATOR_NAMES)
__all__ = ["parallel", *PRELUDE]

import os
import sys
import threading
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # tests import their helper modules

if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
    import numpy as np
    from numba.core import types
    from numba.cuda.simulator.kernelapi import FakeCUDAShared
    from numba.np import numpy_support

    # The CUDA simulator runs every GPU thread as a Python thread and polls them at each
    # syncthreads; with the default 5 ms GIL switch interval a block's barrier costs
    # milliseconds. A 50 us interval makes kernels with barriers (the radix sort's) 5x faster.
    sys.setswitchinterval(5e-5)

    # The simulator makes a block's shared array when the first thread reaches its
    # declaration (found by the caller's file and line), with an unlocked check-then-insert:
    # two threads can each make one and work on different arrays (seen as garbage positions
    # in the radix sort once threads switch often). Here the insert is locked, as a GPU's
    # shared memory is one per block.
    _shared_lock, _dynamic_shared_array = threading.Lock(), FakeCUDAShared.array

    def _locked_shared_array(self, shape, dtype):
        if shape == 0:  # dynamic shared memory: one buffer, no lookup
            return _dynamic_shared_array(self, shape, dtype)
        if isinstance(dtype, types.Type):
            dtype = numpy_support.as_dtype(dtype)
        caller = traceback.extract_stack(sys._getframe(1), limit=1)[-1][0:2]
        with _shared_lock:
            array = self._allocations.get(caller)
            if array is None:
                array = self._allocations[caller] = np.empty(shape, dtype)
        return array
    FakeCUDAShared.array = _locked_shared_array


# Files whose tests take longest (mostly Numba compiling; measured from an empty cache, in
# seconds of test time), run first: pytest-xdist hands whole files to its workers in this
# order, so the longest ones start early and no worker is left alone with one at the end.
LONGEST_FIRST = ["test_nn_recurrent_modules.py", "test_nn_rows.py", "test_dist.py",
                 "test_out.py", "test_compiled_differential.py", "test_grad.py",
                 "test_nn_recurrent.py", "test_nn_functional.py", "test_random_programs.py",
                 "test_nn_modules.py", "test_nn_run.py", "test_compiled_prims.py",
                 "test_reduce_by_index.py"]


def pytest_collection_modifyitems(config, items):
    rank = {name: k for k, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # (stable: file order
    # and the order inside each file stay as they were otherwise)

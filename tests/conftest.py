import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # tests import their helper modules

if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
    # The CUDA simulator runs every GPU thread as a Python thread and polls them at each
    # syncthreads; with the default 5 ms GIL switch interval a block's barrier costs
    # milliseconds. A 50 us interval makes kernels with barriers (the radix sort's) 5x faster.
    sys.setswitchinterval(5e-5)

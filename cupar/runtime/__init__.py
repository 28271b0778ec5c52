"""Kernel IR to machine code, and calls into it: one package per back end (`cpu/` through
Numba, `cuda/` through numba-cuda), and what they share beside them: the kernel cache on
disk (cache.py), arguments and results across the call (dispatch.py), and a histogram's
accumulations as kernel IR (histogram.py). Neither back end imports the other."""

"""Code generation for Numba (cpu) and numba-cuda (gpu0), kernel caches and dispatch.
The CPU and CUDA back ends land here (issues 3 and 4)."""

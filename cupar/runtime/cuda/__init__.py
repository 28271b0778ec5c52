"""The gpu0 back end: kernel IR -> numba-cuda source (codegen.py with schemes, rows and
matmul), the device helpers that source imports (lib, sort), and the engine that compiles,
caches and launches. Importing this package imports no CUDA: `device_array` is used by
every place, and the rest is imported only when gpu0 is used."""

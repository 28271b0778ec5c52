"""The cpu back end: kernel IR -> Numba source (codegen.py with lanes, multipass,
matmul_source and histogram), the helpers that source imports (lib, matmul, blas,
vector_math, sort), the result pool, and the engine that compiles, caches and calls."""

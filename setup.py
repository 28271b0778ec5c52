"""cupar: a Copperhead-style data-parallel language embedded in Python.

Dependencies, and why:
  numpy     - every value cupar takes and returns is a NumPy array or scalar;
  numba, llvmlite - the CPU (and, with numba-cuda, the CUDA) back ends generate Numba code;
  tqdm      - cupar.nn.fit's progress bar (small, pure Python, no dependencies of its own);
  extras: cuda = numba-cuda for NVIDIA GPUs, pinned to the combination known to work
  (numba-cuda 0.30.x fails its first compile under NumPy 2.5: numpy.row_stack is gone);
  test = pytest + hypothesis for the suite (and for cupar.testing, the strategies and checks
  users test their own kernels with), pytest-xdist to run it on every core (it is mostly
  Numba compiling, one core per process), scikit-learn for its digits data set (the training
  tests), nbclient + ipykernel + nbformat to run examples/quickstart.ipynb; examples = the nn
  examples' data sets (scikit-learn's digits, mnist1d generated offline) and their plots
  (matplotlib); dist = mpi4py and an MPI library from the package index (mpich: a wheel, no
  compiler) for cupar.dist and nn.DataParallel; dask = dask.array and distributed for
  cupar.dist.chunked. The test extra takes both, so that `make test` runs the two-process and
  Dask tests.
Entry point: pytest loads cupar's plugin (cupar.testing.plugin: the `cupar_place` fixture,
the `cupar_places` marker) wherever cupar is installed; `-p no:cupar` turns it off.
"""

from setuptools import find_packages, setup

DIST = ["mpi4py>=4.0", "mpich>=4.2"]
DASK = ["dask[array]>=2024.1", "distributed>=2024.1"]

setup(
    name="cupar",
    version="0.1.0",
    description="A data-parallel language embedded in Python, compiled through Numba",
    packages=find_packages(include=["cupar", "cupar.*"]),
    python_requires=">=3.11",
    install_requires=["numpy>=2.0", "numba>=0.60", "llvmlite>=0.43", "tqdm>=4.60"],
    extras_require={
        "cuda": ["numba-cuda>=0.30.4,<0.31", "numpy<2.5"],
        "dist": DIST,
        "dask": DASK,
        "test": ["pytest>=8", "pytest-xdist>=3.5", "hypothesis>=6.100", "scikit-learn>=1.3",
                 "nbclient>=0.10",
                 "ipykernel>=6.29", "nbformat>=5.10", *DIST, *DASK],
        "examples": ["scikit-learn>=1.3", "mnist1d>=0.0.2", "matplotlib>=3.7"],
    },
    entry_points={"pytest11": ["cupar = cupar.testing.plugin"]},
)

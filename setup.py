"""cupar: a Copperhead-style data-parallel language embedded in Python.

Dependencies, and why:
  numpy     - every value cupar takes and returns is a NumPy array or scalar;
  numba, llvmlite - the CPU (and, with numba-cuda, the CUDA) back ends generate Numba code;
  extras: cuda = numba-cuda for NVIDIA GPUs; test = pytest + hypothesis for the suite.
"""

from setuptools import find_packages, setup

setup(
    name="cupar",
    version="0.1.0",
    description="A data-parallel language embedded in Python, compiled through Numba",
    packages=find_packages(include=["cupar", "cupar.*"]),
    python_requires=">=3.11",
    install_requires=["numpy>=2.0", "numba>=0.60", "llvmlite>=0.43"],
    extras_require={
        "cuda": ["numba-cuda>=0.10"],
        "test": ["pytest>=8", "hypothesis>=6.100"],
    },
)

# `make demo` and `make test` do all the set-up themselves (a .venv in this directory).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install clean

$(STAMP): setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,examples]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/quickstart.py

# The second run checks gpu0 under Numba's CUDA simulator (a real GPU runs it with no flag).
# The suite is mostly Numba compiling, one core per process: a worker per core (tests of a
# file stay together, since they share compiled programs).
PYTEST := $(BIN)/python -m pytest -q -n auto --dist loadfile
test: $(STAMP)
	$(PYTEST) tests
	NUMBA_ENABLE_CUDASIM=1 CUPAR_COMPILED_PLACE=gpu0 CUPAR_EXAMPLES_SCALE=0.5 \
		$(PYTEST) -p no:cacheprovider tests/test_gpu.py \
		tests/test_compiled_prims.py tests/test_compiled_differential.py tests/test_out.py \
		tests/test_testing_compare.py \
		tests/test_lanes.py tests/test_dispatch.py tests/test_reduce_by_index.py \
		tests/test_matmul.py tests/test_grad.py tests/test_grad_iterate.py tests/test_nn_functional.py \
		tests/test_nn_modules.py::test_the_same_model_trains_at_gpu0 \
		tests/test_nn_modules.py::test_a_classifier_step_compiles_for_gpu0_without_falling_back_to_cpu \
		tests/test_nn_conv.py tests/test_nn_rows.py tests/test_random_programs.py \
		tests/test_fuzz_regressions.py tests/test_cuda_codegen.py tests/test_cuda_primitives.py \
		tests/test_dist.py::test_data_parallel_trains_at_gpu0_in_one_process

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis

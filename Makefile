# Two commands: `make report` renders every report on the embedded default data,
# `make test` runs the whole test suite. Both set everything up on a fresh clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup data report test test-fast lab sync bench bench-scale clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -e ".[test,spark]"
	$(BIN)/python -m ipykernel install --sys-prefix --name analysis --display-name "Python (analysis)" >/dev/null
	@touch $(STAMP)

setup: $(STAMP)

data: setup
	$(BIN)/python -c "from analysis.data import ensure_default_data; print('default data:', ensure_default_data())"

report: data
	$(BIN)/analysis render --jobs 2

# Two test processes (pytest-xdist; a test file stays in one process, so a notebook's cells run
# in order), one BLAS thread each: the 2 cores are shared, not oversubscribed. One process:
# `make test TEST_WORKERS=0`.
TEST_WORKERS ?= 2
test: setup
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
	  $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope

test-fast: setup
	$(BIN)/python -m pytest -m "not slow" -x -q

lab: setup
	$(BIN)/jupyter lab --notebook-dir=.

# After editing one file of a notebook pair outside JupyterLab: rewrite the other one from it
# (input cells from the file modified last, outputs from the .ipynb).
sync: setup
	$(BIN)/jupytext --sync notebooks/*.ipynb

bench: setup
	$(BIN)/python benchmarks/run_all.py

# Time and peak memory of each bank-wide report, and of the three in one run, on books of 100k
# and 1M customers x 36 months (see the README's "Large books"; about 20 minutes on 2 cores)
bench-scale: setup
	$(BIN)/python benchmarks/bench_scale.py --customers 100000 1000000 --together

clean:
	rm -rf reports/*/ reports/index.html data/synthetic .pytest_cache

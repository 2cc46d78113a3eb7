# needlework: one entry point for students, instructors and CI.
# Every target creates the local virtual environment (.venv) on first use, from requirements.txt.

PY ?= python3
VENV := .venv
PYTHON := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

SUBMISSION ?= hw
SUBMISSIONS ?= submissions
GRADEBOOK ?= gradebook.csv
REPORT ?=
ANONYMOUS ?=
PROBLEM ?=
JOBS ?= 2
DIGITS := data/digits/train-images-idx3-ubyte.gz

.PHONY: venv grade batch test test-fast lint hw references release autograder prairielearn data train bench bench-batch bench-selftest notebooks lab torch selftest check-problem clean help

help:
	@echo "make grade       grade hw/ (PROBLEM=id for one problem, SUBMISSION=dir for another folder)"
	@echo "make batch       grade every folder in SUBMISSIONS=dir in parallel, write GRADEBOOK=file.csv"
	@echo "                 (REPORT=dir: also the class report there; ANONYMOUS=1: pseudonyms in it)"
	@echo "make test        the project's own tests (library, stripper, grader, notebooks, release)"
	@echo "make test-fast   the same without the slow tests"
	@echo "make data        write the offline digits data set (MNIST format) to data/digits/"
	@echo "make hw          regenerate the skeleton hw/ from solutions/"
	@echo "make references  regenerate the grader's public reference outputs"
	@echo "make selftest    grade solutions/ with every planted mistake and correct alternative"
	@echo "                 (PROBLEM=id for one problem's; exit 1 on a miss or a false rejection)"
	@echo "make check-problem ID=id  the structure tests and one problem's self-test (under a minute)"
	@echo "make release     build the student release in dist/"
	@echo "make train       train the reference MLPResNet on the digits data"
	@echo "make autograder  build the Gradescope bundle dist/autograder.zip (SEED=n fixes the hidden seed)"
	@echo "make prairielearn  build the PrairieLearn course files in dist/prairielearn/ (SEED=n)"
	@echo "make notebooks   execute every notebook against solutions/ and against hw/"
	@echo "make lab         start JupyterLab on the kit, opening notebooks/"
	@echo "make bench       benchmarks (needle vs PyTorch when installed)"
	@echo "make bench-batch batch throughput with and without probe isolation (as root)"
	@echo "make bench-selftest  the self-test's time, parallel against serial (PROBLEM=id for one)"
	@echo "make lint        ruff"

$(STAMP): requirements.txt
	$(PY) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet -r requirements.txt
	touch $@

venv: $(STAMP)

# PyTorch is optional: benchmarks and cross-check tests use it when it is there.
torch: $(STAMP)
	$(VENV)/bin/pip install --quiet torch==2.13.0

$(DIGITS): grader/digits.py | $(STAMP)
	$(PYTHON) -m grader data --out data/digits

data: $(DIGITS)

grade: $(STAMP)
	$(PYTHON) -m grader grade --submission $(SUBMISSION) $(if $(PROBLEM),--problem $(PROBLEM))

test: $(STAMP) $(DIGITS)
	$(PYTHON) -m pytest -n $(JOBS)

test-fast: $(STAMP) $(DIGITS)
	$(PYTHON) -m pytest -n $(JOBS) -m "not slow"

lint: $(STAMP)
	$(VENV)/bin/ruff check .

hw: $(STAMP)
	$(PYTHON) -m grader assign

# Instructors: grade every submission folder in SUBMISSIONS/ in parallel and write a gradebook;
# REPORT=dir also writes the class report (report.html, checks.csv, plots) there.
batch: $(STAMP)
	$(PYTHON) -m grader batch $(SUBMISSIONS) --jobs $(JOBS) --out $(GRADEBOOK) \
		$(if $(PROBLEM),--problem $(PROBLEM)) $(if $(REPORT),--report $(REPORT)) \
		$(if $(ANONYMOUS),--anonymous)

references: $(STAMP)
	$(PYTHON) -m grader references

# Instructors: how strong is each problem's grading (planted mistakes caught, correct variants kept,
# the two canaries, the release's leak scan). PROBLEM=id for one problem's patches.
selftest: $(STAMP)
	$(PYTHON) -m grader selftest --jobs $(JOBS) $(if $(PROBLEM),--problem $(PROBLEM))

# After adding or changing a problem: in under a minute, what `make test` would find for it. The
# kit's structure (tests marked `authoring`: hw/ and the references current, points summing to
# 100, every region owned once, the skeleton's stubs, the notebooks' check cells and task lines),
# then the self-test of that problem (canaries, its planted mistakes and alternatives, the leak scan).
check-problem: $(STAMP)
	@test -n "$(ID)" || { echo "usage: make check-problem ID=<problem id>" >&2; exit 2; }
	@$(PYTHON) -c "import sys; from grader.problems import PROBLEM_IDS as ids; \
		sys.exit(None if '$(ID)' in ids else 'check-problem: no problem $(ID); known: ' + ', '.join(ids))"
	$(PYTHON) -m pytest -q -n $(JOBS) -m authoring -p no:cacheprovider
	$(PYTHON) -m grader selftest --jobs $(JOBS) --problem $(ID)

# The release ships the public references: refuse it when they are stale.
release: $(STAMP)
	$(PYTHON) -m grader references --check
	$(PYTHON) -m grader release

# Gradescope: SEED=n fixes the hidden cases' seed (default: a fresh random one, recorded in the bundle).
autograder: $(STAMP)
	$(PYTHON) -m grader autograder --out dist/autograder.zip $(if $(SEED),--seed $(SEED))

# PrairieLearn: the grader, hidden answers and an example question (README inside); SEED=n as above.
prairielearn: $(STAMP)
	$(PYTHON) -m grader prairielearn-build --out dist/prairielearn $(if $(SEED),--seed $(SEED))

notebooks: $(STAMP) $(DIGITS)
	$(PYTHON) -m pytest tests/notebooks -n $(JOBS)

# JupyterLab (pinned in requirements.txt) serves the whole kit, so that hw/ opens and saves from its
# file browser, and opens at notebooks/. As root (a container) it needs --allow-root.
lab: $(STAMP)
	$(VENV)/bin/jupyter lab --ServerApp.root_dir="$(CURDIR)" --LabApp.default_url=/lab/tree/notebooks \
		$(if $(filter 0,$(shell id -u)),--allow-root)

train: $(STAMP) $(DIGITS)
	cd solutions && ../$(PYTHON) -m apps.mlp_resnet --data-dir ../data/digits

bench: $(STAMP) $(DIGITS)
	$(PYTHON) bench/bench_mlp_resnet.py

# The self-test's time, copies graded in parallel against one at a time.
bench-selftest: $(STAMP)
	$(PYTHON) bench/bench_selftest.py --jobs $(JOBS) $(if $(PROBLEM),--problem $(PROBLEM))

# Batch throughput with probe isolation against a shared probe user (as root; see the script).
bench-batch: $(STAMP)
	$(PYTHON) bench/bench_batch.py

clean:
	rm -rf dist .pytest_cache

# The kit's commands. On a fresh clone `make grade` or `make test` alone sets everything up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SUBMISSIONS ?= examples/submissions
NB ?=
ARGS ?=
CLUSTER ?=
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: setup test grade release check bench clean gradescope messages

setup: $(STAMP)

# Re-installs only when pyproject.toml changes (a warm `make setup` does nothing).
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' || { \
	  echo "error: this kit needs Python 3.10 or newer; '$(PYTHON)' is $$($(PYTHON) --version 2>&1)." >&2; \
	  echo "       Install a newer Python or run: make PYTHON=python3.11 ..." >&2; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || { echo "error: could not create $(VENV) (is the venv module installed? Debian: apt install python3-venv)" >&2; exit 1; }
	@echo "installing the pinned dependencies into $(VENV) (first time: about a minute)"
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e . || { \
	  echo "error: installing the dependencies failed (see pip's message above): check the network or package index." >&2; exit 1; }
	@touch $(STAMP)

# pytest's exit code 5 (no tests collected) is a failure here, not a pass.
# TEST_WORKERS pytest processes (pytest-xdist), each taking whole test files: a file's module-scoped fixtures
# (a graded attack class, a LocalCluster) are built once. TEST_WORKERS=0 runs the suite in this one process.
TEST_WORKERS ?= 2
test: setup
	@$(BIN)/python -m pytest $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile) $(PYTEST_ARGS); status=$$?; \
	  if [ $$status -eq 5 ]; then echo "error: pytest collected no tests" >&2; exit 1; fi; exit $$status

grade: setup
	$(BIN)/python -m grader grade $(SUBMISSIONS) $(if $(CLUSTER),--cluster $(CLUSTER)) $(ARGS)

release: setup
	$(BIN)/python -m grader release

check: setup
	@test -n "$(NB)" || { echo "usage: make check NB=assignments/vgg/vgg.ipynb" >&2; exit 2; }
	$(BIN)/python -m grader check "$(NB)" $(ARGS)

# Gradescope autograder zips: dist/gradescope/<assignment>.zip (ASSIGNMENT=vgg for one; ARGS="--visibility hidden").
gradescope: setup
	$(BIN)/python -m grader gradescope $(if $(ASSIGNMENT),--assignment $(ASSIGNMENT)) $(ARGS)

# Re-extract every message into the catalogs (new ones untranslated), then list what still needs a translator.
messages: setup
	$(BIN)/python -m grader.i18n update
	-$(BIN)/python -m grader.i18n check

bench: setup
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) grades  # not .nbgrader/: it holds the course's nbgrader gradebook (roster, scores)

# The two quick-start commands: `make serve` and `make test`.
# Both create .venv and install the project on first use. Nothing is printed on
# stdout before the server starts (stdout is the MCP stdio transport).
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
export NBAMCP_DATA_DIR ?= $(abspath ../shared/data)

.PHONY: serve test lint format bench
.SILENT:

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV) 1>&2
	$(PY) -m pip install --quiet --upgrade pip 1>&2
	$(PY) -m pip install --quiet -e ".[test]" 1>&2
	touch $@

serve: $(STAMP)
	exec $(VENV)/bin/nbamcp serve $(ARGS)

test: $(STAMP)
	$(PY) -m pytest $(ARGS)

# Style, then the guard rails: DESIGN.md's import rules (import-linter, contracts in
# pyproject.toml) and types (mypy, strictness in pyproject.toml).
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Two commands do all set-up on a fresh machine with python3 and make:
#   make demo   -- the whole job on the built-in synthetic corpus
#   make test   -- ruff + mypy + the test suite (which builds the documentation site too)
#   make docs   -- the documentation site, strict and offline, into build/docs/
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA ?= ../shared/data/ravdess16k
DEMO ?= build/demo

.PHONY: all venv demo test lint typecheck docs model bench robustness clean

all: test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[train,serve,scale,hf,listen,dev,docs]"
	touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts

# mypy --strict over the typed public modules ([tool.mypy] files in pyproject.toml).
typecheck: $(STAMP)
	$(BIN)/mypy

test: $(STAMP) lint typecheck
	$(BIN)/python -m pytest -q

# Warnings are errors (mkdocs.yml: strict), and the site loads nothing from elsewhere.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir build/docs

demo: $(STAMP)
	bash scripts/demo.sh $(DEMO)

model: $(STAMP)
	$(BIN)/python scripts/build_model.py --recipe recipes/default.toml

bench: $(STAMP)
	$(BIN)/python -m bench $(DATA)

# UAR of held-out RAVDESS actors under every recording condition of sera.robustness (floors,
# babble, rooms, phone lines, gain, hum; about 20 minutes on two cores).
robustness: $(STAMP)
	$(BIN)/python bench/robustness.py $(DATA) --out build/robustness-default

clean:
	rm -rf build .pytest_cache

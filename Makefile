# Two commands do all set-up on a fresh machine with python3 and make:
#   make demo   -- the whole job on the built-in synthetic corpus
#   make test   -- ruff + the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA ?= ../shared/data/ravdess16k
DEMO ?= build/demo

.PHONY: all venv demo test lint model bench robustness clean

all: test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[train,serve,scale,hf,listen,dev]"
	touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts

test: $(STAMP) lint
	$(BIN)/python -m pytest -q

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

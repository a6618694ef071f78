# Two entry points (see README): `make study` and `make test`. Each sets everything up
# first; set-up is idempotent and takes seconds when nothing changed.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMPS := .setup

.PHONY: setup study test lint browser emscripten engines clean

setup: $(STAMPS)/python $(STAMPS)/npm browser emscripten engines

$(STAMPS)/python: pyproject.toml
	@python3 -c 'import sys; assert sys.version_info[:2] == (3, 11), "browserdl needs Python 3.11 (python3 is " + sys.version.split()[0] + ")"'
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@mkdir -p $(STAMPS) && touch $@

$(STAMPS)/npm: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@mkdir -p $(STAMPS) && touch $@

# Finds an installed Chromium, else installs one (Playwright's, else Debian's as root).
browser: $(STAMPS)/python
	$(PY) -m browserdl.loaders.browser ensure

# WebDNN's webassembly backend compiles its kernels with em++ and Eigen at conversion time.
# Optional: without them `webdnn-webassembly` is reported n/a with this same hint.
emscripten:
	@if command -v em++ >/dev/null && test -d /usr/include/eigen3; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian's emscripten and Eigen for webdnn-webassembly"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq emscripten libeigen3-dev >/dev/null \
	    || echo "could not install emscripten: webdnn-webassembly will be n/a"; \
	else echo "no em++: webdnn-webassembly will be n/a (apt-get install emscripten libeigen3-dev)"; fi

# The other engines (--targets firefox,webkit): Debian's Firefox ESR (driven over WebDriver BiDi)
# and WebKitGTK's MiniBrowser with its WebKitWebDriver, under Xvfb. Optional: without them those
# targets are n/a with this same hint.
ENGINES := firefox-esr webkit2gtk-driver xvfb
engines:
	@if command -v firefox-esr >/dev/null && command -v WebKitWebDriver >/dev/null && command -v Xvfb >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian's $(ENGINES) for the firefox and webkit targets"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(ENGINES) >/dev/null \
	    || echo "could not install $(ENGINES): the firefox and webkit targets will be n/a"; \
	else echo "no Firefox/WebKitWebDriver/Xvfb: the firefox and webkit targets will be n/a (apt-get install $(ENGINES))"; fi

study: setup
	$(VENV)/bin/browserdl study --preset quick

lint: $(STAMPS)/python
	$(VENV)/bin/ruff check browserdl tests benchmarks

test: setup lint
	$(VENV)/bin/pytest -n 2 --dist loadgroup

clean:
	rm -rf $(VENV) node_modules $(STAMPS)

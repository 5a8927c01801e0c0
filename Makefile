# OpenDPG Compute. `make test` and `make demo` set everything up first, idempotently and offline-safe:
# .venv (opendpg + dev tools), .venv-brownie (brownie, pinned apart: its exact pins clash with ours),
# node_modules (anvil, ganache, solc-js, OpenZeppelin, from package-lock.json), the solc wrapper, and kubo.

SHELL := /bin/bash
PYTHON ?= python3
ROOT := $(CURDIR)
VENV := $(ROOT)/.venv
BVENV := $(ROOT)/.venv-brownie
SOLC := $(ROOT)/.tools/solcx/solc-v0.8.28
export SOLCX_BINARY_PATH := $(ROOT)/.tools/solcx
export PATH := $(ROOT)/node_modules/.bin:$(VENV)/bin:$(PATH)
export PYTHONDONTWRITEBYTECODE := 1
BROWNIE := $(BVENV)/bin/brownie
# The property tests use hypothesis's `given` with their own chain snapshot/revert (brownie's stateful
# machinery does not work in its compiled 1.22 build), hence the silenced BrownieTestWarning.
BROWNIE_FLAGS := -W ignore::FutureWarning -W ignore::brownie.exceptions.BrownieTestWarning -p no:cacheprovider

.PHONY: setup postgres chromium frontend test contracts-build contracts-artifacts test-contracts test-contracts-ganache test-forge test-python lint slither demo demo-finetune bench fuzz clean

KUBO := $(ROOT)/.tools/bin/ipfs
FORGE := $(ROOT)/node_modules/.bin/forge

FRONTEND_SOURCES := $(shell find frontend/src -type f 2>/dev/null) frontend/index.html frontend/vite.config.ts \
	frontend/tsconfig.json

setup: $(VENV)/.installed $(BVENV)/.installed node_modules/.installed $(SOLC) $(KUBO) postgres chromium frontend

# The gateway's tests run a real PostgreSQL server (started by the fixtures, as the `postgres` user when we
# are root). Debian's package provides it; install it when it is missing.
postgres:
	@ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || { \
		echo "installing Debian's postgresql package (the gateway tests run a real PostgreSQL)"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql >/dev/null; }

# The web app's browser tests drive Debian's Chromium (Playwright's own browser download does not work here).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing Debian's chromium package (the web app is tested in a real browser)"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

# The web app (TypeScript, Vite, viem): typechecked and built into frontend/dist, which the gateway serves at /app.
frontend: frontend/dist/index.html

frontend/node_modules/.installed: frontend/package.json frontend/package-lock.json
	cd frontend && npm install --no-audit --no-fund --loglevel=error
	touch $@

frontend/dist/index.html: frontend/node_modules/.installed $(FRONTEND_SOURCES)
	cd frontend && npm run --silent build

$(VENV)/.installed: pyproject.toml python/constraints.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q -c python/constraints.txt -e '.[dev]'
	touch $@

$(BVENV)/.installed: scripts/brownie-constraints.txt
	test -x $(BVENV)/bin/python || $(PYTHON) -m venv $(BVENV)
	$(BVENV)/bin/pip install -q -c scripts/brownie-constraints.txt eth-brownie==1.22.0 pytest-timeout==2.4.0
	touch $@

# `npm install` from the lock, not `npm ci`: the registry here carries only anvil's linux-x64 build, so the
# lock cannot list the other platforms' optional packages and `npm ci` refuses it. Versions are exact.
node_modules/.installed: package.json package-lock.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

$(SOLC): scripts/tools/solc.cjs
	mkdir -p $(dir $@)
	ln -sf ../../scripts/tools/solc.cjs $@
	$@ --version >/dev/null

# kubo (IPFS) is built from the Go module proxy at a pinned tag; the Go module cache keeps rebuilds short.
$(KUBO): scripts/tools/build-kubo.sh
	scripts/tools/build-kubo.sh $@

# The static checks run two at a time with brownie's compilation of the contracts: each is one single-threaded
# process (mypy; slither's, forge's and brownie's solc-js compilations, minutes each on a fresh clone), so two keep
# both cores busy. The Python tests follow; then the contracts' tests on anvil and on ganache side by side (each
# a chain on its own port and a brownie process, on the build compiled before).
test: setup
	$(MAKE) -j2 --output-sync=target lint slither test-forge contracts-build contracts-artifacts
	$(MAKE) test-python
	$(MAKE) -j2 --output-sync=target test-contracts test-contracts-ganache

contracts-build: setup
	$(BROWNIE) compile

# The artifacts the Python code deploys (build/opendpg, cached by a hash of the sources), compiled before the Python
# tests rather than by their first fixture (minutes with solc-js through the IR pipeline)
contracts-artifacts: setup
	$(VENV)/bin/opendpg compile >/dev/null

# --prune-history: anvil otherwise writes every state past its in-memory window to ~/.foundry/anvil/tmp and
# leaves it there when stopped (tens of GB after a few runs). Brownie takes the command line only from its
# user-level network list, so it is set there (idempotent).
test-contracts: setup
	$(BROWNIE) networks modify anvil cmd="anvil --prune-history" >/dev/null
	$(BROWNIE) test tests/contracts --network anvil $(BROWNIE_FLAGS)

# On ganache-cli the deployment script and the modules of the market, the registry, governance and the token run:
# every kind of transaction, event and time travel the suite makes. The other modules (disputes, review rewards,
# the data ledger, node registry, certified-market requirements) and the property tests are the same contract logic
# on the same EVM version, run on anvil above and by forge's invariants; on ganache's slower mining they would add
# minutes to CI and check nothing chain-specific.
GANACHE_MODULES := test_deploy_script test_job_market test_dpg_registry test_governance test_token
test-contracts-ganache: setup
	$(BROWNIE) test $(GANACHE_MODULES:%=tests/contracts/%.py) --network ganache-cli $(BROWNIE_FLAGS)

# The contracts' invariants (tests/forge): forge's fuzzer runs random sequences of every public action of posters,
# providers, coordinators and governance through a handler and checks the market's promises after each call.
# `make test` runs the short profile (foundry.toml: 16 runs x 200 calls); `make fuzz` the long one (256 x 500).
test-forge: setup
	$(FORGE) test --offline

fuzz: setup
	FOUNDRY_PROFILE=long $(FORGE) test --offline

# Two processes (pytest-xdist), a whole module in each at a time: most of a test waits on chains, daemons and Flower
# rounds, so two keep both cores busy. The modules marked slow start first (tests/python/conftest.py; xdist would
# otherwise order modules by their number of tests).
PYTEST_WORKERS ?= 2
test-python: setup
	$(VENV)/bin/pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder tests/python

lint: setup
	$(VENV)/bin/ruff check python tests scripts
	$(VENV)/bin/mypy

slither: setup
	$(VENV)/bin/opendpg compile --write-input build/slither-input.json
	$(VENV)/bin/slither build/slither-input.json --compile-force-framework solc-json --solc $(SOLC) \
		--filter-paths node_modules --exclude-informational --exclude-low --exclude-optimization --fail-medium

demo: setup
	$(VENV)/bin/opendpg demo $(DEMO_ARGS)

# The fine-tuning demo: a base model pre-trained here on public digits, certified as a DPG model asset, fine-tuned
# with federated LoRA on three providers' own PNG files of other digits; accuracy before/after, bytes per round.
demo-finetune: setup
	$(VENV)/bin/opendpg demo-finetune $(DEMO_ARGS)

bench: setup
	$(VENV)/bin/python scripts/bench_gas.py --out bench-results/gas.json
	$(VENV)/bin/python scripts/bench_fl.py --out bench-results/fl.json
	$(VENV)/bin/python scripts/bench_data.py --out bench-results/data.json
	$(VENV)/bin/python scripts/bench_gateway.py --out bench-results/gateway.json

clean:
	rm -rf build reports .opendpg bench-results .hypothesis

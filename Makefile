# The two commands that matter: `make up` runs the whole shop, `make test` runs every test.
# Both install what they need: a virtualenv in .venv and the external tools in .tools/.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: up test test-containers install tools lint typecheck bench audit lock clean

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip 2>&1 | grep -v 'is ignored' || test "$${PIPESTATUS[0]}" -eq 0
	$(BIN)/pip install --quiet -c requirements.lock -e '.[dev]' 2>&1 | grep -v 'is ignored' || test "$${PIPESTATUS[0]}" -eq 0
	touch $@

install: $(STAMP)

## tools: every tools/install-*.sh, each idempotent, installing into .tools/ (or apt for system packages)
tools: $(STAMP)
	@set -e; for script in tools/install-*.sh; do bash "$$script"; done

up: $(STAMP)
	$(BIN)/ecommerce up

lint: $(STAMP)
	$(BIN)/ruff check src tests bench monitoring
	$(BIN)/ruff format --check src tests bench monitoring

typecheck: $(STAMP)
	$(BIN)/mypy src/ecommerce/chassis

test: install tools lint typecheck
	$(BIN)/pytest

## audit: known vulnerabilities in the installed packages (needs the vulnerability database online)
audit: $(STAMP)
	$(BIN)/python tests/reliability/test_dependency_audit.py

bench: install tools
	bash bench/install-tools.sh
	$(BIN)/python -m bench

## lock: re-resolve the runtime packages into requirements.lock (after changing pyproject's dependencies)
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet . 2>&1 | grep -v 'is ignored' || test "$${PIPESTATUS[0]}" -eq 0
	{ echo '# Every runtime package of the image, pinned (direct and transitive). Regenerate with `make lock`.'; \
	  .lock-venv/bin/pip freeze --exclude ecommerce-microservices; } > requirements.lock
	rm -rf .lock-venv

clean:
	rm -rf .data .pytest_cache .mypy_cache .ruff_cache

## test-containers: the shop as containers on a Docker engine (installs and starts one when missing), stand-in base
## images from Debian's packages, the project's image, then tests/containers/test_shop_*.py and test_image.py
test-containers: install
	bash tools/containers/ensure-docker.sh
	bash tools/containers/build-images.sh
	DOCKER_BUILDKIT=0 docker build --quiet --network host -t ecommerce-microservices:1.0.0 . >/dev/null
	docker-compose config --quiet
	ECOMMERCE_CONTAINER_TESTS=1 $(BIN)/pytest -p no:cacheprovider tests/containers -v

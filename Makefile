# secure-scaffold: `make demo` and `make test` are the two commands you need.
PYTHON   ?= python3
VENV     ?= .venv
BIN       = $(VENV)/bin
DEMO_DIR ?= demo-app
PIP       = $(BIN)/python -m pip --disable-pip-version-check --quiet
# Parallel workers for the generator tests (the answer matrix renders on its own worker).
WORKERS  ?= 2

.PHONY: install demo test lint bench clean

$(BIN)/secure-scaffold: pyproject.toml requirements/generated-projects.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install -e '.[dev]' -r requirements/generated-projects.txt
	@touch $@

install: $(BIN)/secure-scaffold ## create the venv and install the generator + generated projects' pins

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

test: install ## the generator's test suite
	$(BIN)/python scripts/services_up.py
	$(BIN)/python -m pytest -n $(WORKERS) --dist loadgroup

lint: install
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts

bench: install ## generation and matrix timings (figures, not pass/fail)
	$(BIN)/python bench/bench_generate.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .ruff_cache

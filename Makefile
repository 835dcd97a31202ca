.PHONY: run test lint bench bench-quick

VENV := .venv
PY := $(VENV)/bin/python

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -e ".[dev]"

# Start the service on its embedded defaults at http://127.0.0.1:5000
run: $(PY)
	$(VENV)/bin/flask --app service run

# Install and start whatever the tests need, then run them all.
test:
	./scripts/test.sh

lint: $(PY)
	$(VENV)/bin/ruff check .

# The hook's benchmark (bench/README.md): prints a table, writes bench/results/*.json.
bench: $(PY)
	$(PY) -m bench

bench-quick: $(PY)
	$(PY) -m bench --quick

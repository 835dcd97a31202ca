.PHONY: run test test-fast lint bench bench-quick card-gallery

VENV := .venv
PY := $(VENV)/bin/python
# Where `make run` listens: `make run PORT=5050` when 5000 is taken.
PORT ?= 5000

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -e ".[dev]"

# Start the service for LOCAL TESTING at http://127.0.0.1:$(PORT) (default 5000): JWT
# verification off (loopback clients only, a warning at start), CORS open to a CDS Hooks
# Sandbox served at http://127.0.0.1:8080. A deployment verifies tokens: see docs/security.md.
run: $(PY)
	MCAS_AUTH_DISABLED=true MCAS_CORS_ORIGINS=$${MCAS_CORS_ORIGINS:-http://127.0.0.1:8080} \
	  $(VENV)/bin/flask --app service run --host 127.0.0.1 --port $(PORT)

# Install and start whatever the tests need, then run them all.
test:
	./scripts/test.sh

# The same set-up and checks, then every test but the integration (real servers and
# other processes), browser and slow ones: the quick run while working.
test-fast:
	./scripts/test.sh -m "not integration and not browser and not slow"

lint: $(PY)
	$(VENV)/bin/ruff check .

# The hook's benchmark (bench/README.md): prints a table, writes bench/results/*.json.
bench: $(PY)
	$(PY) -m bench

bench-quick: $(PY)
	$(PY) -m bench --quick

# Every card as an EHR shows it, for clinical review: docs/cards.md, docs/cards/gallery.html
# and one screenshot per topic (docs/cards/<topic>.png, Debian's headless Chromium). Run it
# after changing cards/ or fhir_fixtures/: a test fails while docs/cards.md is out of date.
card-gallery: $(PY)
	$(PY) -m service.gallery

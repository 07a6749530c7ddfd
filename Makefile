# make run [PORT=5000]: install into .venv, migrate, load demo content, serve on http://127.0.0.1:PORT
# make test: install into .venv and run every test
# make lint, make typecheck: ruff and mypy
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint typecheck bench clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# The demo's settings, unless the environment sets them: the built-in LinkedIn sandbox, a
# name (feeds, credit lines and emails say it) and the address it is served at
# (make run PORT=5050). They are written to the instance folder, where every syndicate
# command of this checkout reads them (syndicate doctor, posts dispatch, ...).
PORT ?= 5000
INSTANCE := $${SYNDICATE_INSTANCE_PATH:-instance}

run: $(VENV)/.installed
	@mkdir -p "$(INSTANCE)" && { \
	  echo "# Written by make run; variables set in the environment win (README: Start)."; \
	  echo "SYNDICATE_LINKEDIN_SANDBOX=$${SYNDICATE_LINKEDIN_SANDBOX-1}"; \
	  echo "SYNDICATE_SITE_NAME=$${SYNDICATE_SITE_NAME-Syndicate Demo Magazine}"; \
	  echo "SYNDICATE_SITE_URL=$${SYNDICATE_SITE_URL-http://127.0.0.1:$(PORT)}"; \
	} > "$(INSTANCE)/development.env"
	$(BIN)/syndicate db upgrade
	$(BIN)/syndicate demo --if-empty
	exec $(BIN)/syndicate serve --port $(PORT) --with-scheduler

# Every core runs tests (pytest-xdist; TEST_WORKERS=0 runs them in this one process).
# pytest exits 5 when it collected no test: that is a failure here.
TEST_WORKERS ?= auto
test: $(VENV)/.installed
	$(BIN)/pytest -n $(TEST_WORKERS) $(PYTEST_ARGS); rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests ran"; exit 1; fi; exit $$rc

# ruff check only: `ruff format --check .` still finds files to reformat.
lint: $(VENV)/.installed
	$(BIN)/ruff check .

# mypy --strict on syndicate/ (settings: [tool.mypy] in pyproject.toml).
typecheck: $(VENV)/.installed
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache

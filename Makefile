# make run: install into .venv, migrate, load demo content, serve on http://127.0.0.1:5000
# make test: install into .venv and run every test
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint bench clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# The demo talks to the built-in LinkedIn sandbox and has a name (feeds, credit lines and
# emails say it); either can be set in the environment instead.
DEMO := SYNDICATE_LINKEDIN_SANDBOX="$${SYNDICATE_LINKEDIN_SANDBOX-1}" \
	SYNDICATE_SITE_NAME="$${SYNDICATE_SITE_NAME-Syndicate Demo Magazine}"

run: $(VENV)/.installed
	$(BIN)/syndicate db upgrade
	$(DEMO) $(BIN)/syndicate demo --if-empty
	$(DEMO) $(BIN)/syndicate serve --with-scheduler

# pytest exits 5 when it collected no test: that is a failure here.
test: $(VENV)/.installed
	$(BIN)/pytest $(PYTEST_ARGS); rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests ran"; exit 1; fi; exit $$rc

lint: $(VENV)/.installed
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache

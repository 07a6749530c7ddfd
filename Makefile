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

run: $(VENV)/.installed
	$(BIN)/syndicate db upgrade
	SYNDICATE_LINKEDIN_SANDBOX=$${SYNDICATE_LINKEDIN_SANDBOX-1} $(BIN)/syndicate demo --if-empty
	SYNDICATE_LINKEDIN_SANDBOX=$${SYNDICATE_LINKEDIN_SANDBOX-1} $(BIN)/syndicate serve --with-scheduler

# pytest exits 5 when it collected no test: that is a failure here.
test: $(VENV)/.installed
	$(BIN)/pytest $(PYTEST_ARGS); rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests ran"; exit 1; fi; exit $$rc

lint: $(VENV)/.installed
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache

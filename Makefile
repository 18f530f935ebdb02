.PHONY: setup demo test build lint format
setup: ; scripts/setup.sh
demo: ; scripts/demo.sh
test: ; scripts/test.sh
build: ; swift build -c release --product bedside
lint: ; swift format lint --strict -r Sources Tests && .venv/bin/ruff check .
format: ; swift format format -i -r Sources Tests && .venv/bin/ruff check --fix .

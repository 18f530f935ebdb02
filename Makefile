.PHONY: setup demo test build
setup: ; scripts/setup.sh
demo: ; scripts/demo.sh
test: ; scripts/test.sh
build: ; swift build -c release --product bedside

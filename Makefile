# The two commands of the README.  Both set up .venv first (fast when nothing changed).
.PHONY: setup run test lint

setup:
	@bash scripts/setup.sh

run: setup
	.venv/bin/llmrec

test: setup
	.venv/bin/python -m pytest

lint: setup
	.venv/bin/ruff check .

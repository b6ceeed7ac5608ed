"""``python -m llmrec``: the ``llmrec`` command."""

from llmrec.cli import main

if __name__ == "__main__":
    raise SystemExit(main())

"""``python -m riskmodel`` is the command line."""

from riskmodel.cli import run

run()

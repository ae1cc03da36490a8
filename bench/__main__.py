"""`python -m bench` runs the command-line interface."""

from bench.cli import main

main()

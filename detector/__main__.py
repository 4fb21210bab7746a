"""`python -m detector` runs the CLI."""

from detector.cli import main

main()

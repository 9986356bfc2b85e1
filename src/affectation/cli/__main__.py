"""`python -m affectation.cli`: the `affectation` command."""

from affectation.cli import main

main()

"""`python -m affectation`: the `affectation` command."""

from affectation.cli import main

main()

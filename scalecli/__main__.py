"""`python -m scalecli`, the same as the `scale` command."""

from scalecli.commands import main

main()

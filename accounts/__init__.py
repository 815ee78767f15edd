"""`python -m accounts`: the people who may use the service, from the command line (see accounts/__main__.py)."""

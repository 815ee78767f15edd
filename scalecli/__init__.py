"""`scale`: a command-line client of the Scale job and log search service.

It talks to the service over HTTP only (httpx), like any other client: it imports nothing of the service.
"""

"""What every package of the service shares: time (core.times) and the Elasticsearch client (core.elastic).

The bottom layer: it imports nothing of the service but settings.
"""

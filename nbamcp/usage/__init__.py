"""Usage counters per hour, tenant, key and tool: storage only (no bus).

``workers/usage.py`` owns the file (``usage.sqlite``) and answers ``nba.usage.*``;
the front end counts calls and sends them in batches.
"""

"""The prediction log and the feedback join: SQLite schemas, batching, realized metrics.

No bus and no MCP here: ``workers/predlog.py`` and ``workers/monitor.py`` do the
talking; this package is the storage and scoring they share.
"""

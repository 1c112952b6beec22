"""The thin MCP front end: validate, route over the bus, shape results.

Imports only the bus, the messages and the MCP SDK: no worker, no ML library.
"""

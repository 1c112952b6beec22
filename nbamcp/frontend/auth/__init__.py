"""Who may call the HTTP/SSE front end, and what: API keys, scopes, the SDK's token verifier.

``keys`` stores hashed keys (a JSON file, and its in-memory twin); ``verifier``
is the MCP SDK ``TokenVerifier`` over a key store; ``scopes`` says which scope
each tool, resource and prompt needs.
"""

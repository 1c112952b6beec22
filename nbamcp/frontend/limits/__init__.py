"""Rate limits, daily quotas and usage per tenant: the front end's own accounting.

``bucket``: a token bucket with an injectable clock. ``limiter``: one bucket
and one daily quota per key, and what each call costs. ``usage``: calls,
errors, units, games and time per tenant and tool, kept in ``usage.sqlite``.
"""

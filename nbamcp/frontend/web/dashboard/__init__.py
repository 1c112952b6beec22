"""``/dashboard``: one server-rendered page (Starlette, inline SVG charts, no script, no CDN).

``data`` gathers what the page shows over the bus (health, model status, the
monitor's report) and from the front end itself (the last minutes of calls);
``svg`` draws the charts; ``page`` writes the HTML; ``routes`` serves it behind
the same keys as ``/metrics`` (a browser logs in once and keeps a cookie).
"""

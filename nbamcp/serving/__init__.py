"""Serving predictions: the pieces the inference and cache workers (and the front end's path) are made of.

Front-end safe (standard library, msgspec, the bus and the messages only):
``breaker``, ``retry``, ``client``, ``lru``, ``idempotency``, ``batcher``, ``keys``.
Worker-side (numpy, onnxruntime, the store): ``canonical``, ``live_features``,
``explain``, ``models``, ``scoring``. Importing this package imports none of them.
"""

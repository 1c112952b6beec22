"""The games travel between workers: published by the stats worker, replicated by the others.

``announce`` (the owner's side) writes each season of the games dataset whole into
the data bucket when its version changed, and sends the news as events; ``replica``
(the receivers' side) replays the bucket on start, then follows it, and says what
changed. The bucket is a ``KeyValue`` (``nbamcp.bus.kv``): a JetStream KV bucket on
NATS, its twin in process.
"""

from __future__ import annotations

from nbamcp.bus.kv import BucketSettings
from nbamcp.config import Config


def data_bucket(config: Config) -> BucketSettings:
    """The data bucket as every worker opens it (the first one creates it): on disk, kept forever."""
    return BucketSettings(config.data.datasets_bucket, description="nbamcp datasets: the games, by season")

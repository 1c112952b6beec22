"""The actor base every worker is built on: lifecycle, routes, durable consumers, context."""

from nbamcp.actor.base import Actor
from nbamcp.actor.context import WorkerContext, open_context
from nbamcp.actor.routes import Context, Delivery, DurableRoute, Route

__all__ = ["Actor", "Context", "Delivery", "DurableRoute", "Route", "WorkerContext", "open_context"]

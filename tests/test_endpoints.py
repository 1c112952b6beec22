"""The endpoint table: one entry per subject, valid subjects, types that are bus messages."""

from __future__ import annotations

import typing

from nbamcp import endpoints as ep
from nbamcp.bus.subjects import check_publish_subject
from nbamcp.messages import Message
from workers import WORKERS


def _table() -> list[ep.Endpoint[object] | ep.Event[object]]:
    return [v for v in vars(ep).values() if isinstance(v, ep.Endpoint | ep.Event)]


def test_one_entry_per_subject_and_valid_subjects() -> None:
    table = _table()
    subjects = [e.subject for e in table]
    assert len(subjects) == len(set(subjects)), subjects
    for s in subjects:
        check_publish_subject(s)
    assert {e.subject for e in ep.STATS} == {e.subject for e in table if e.queue == "stats"}


def test_types_are_messages_and_queues_are_workers() -> None:
    for e in _table():
        types = typing.get_args(e.request) or (e.request,) if isinstance(e, ep.Endpoint) else (e.message,)
        assert all(issubclass(t, Message) for t in types), e
        if isinstance(e, ep.Endpoint):
            assert issubclass(e.reply, Message), e
        assert e.queue is None or e.queue in WORKERS, e


def test_at_names_a_token_under_the_subject() -> None:
    assert ep.TRAIN_CONTROL.at("job1").subject == "nba.train.control.job1"
    assert ep.TRAIN_PROGRESS.at("job1").subject == "nba.train.progress.job1"
    assert ep.TRAIN_CONTROL.at("job1").reply is ep.TRAIN_CONTROL.reply

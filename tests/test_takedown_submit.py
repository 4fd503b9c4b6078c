"""Submission to a demo marketplace's intake on loopback: idempotent across a crash, retried."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crawler.db.models_takedown import NoticeBatch, TakedownRequest
from crawler.db.session import session_scope
from crawler.demo.server import ServerThread, SiteOptions, build_app
from crawler.takedown.queue import enqueue_from_match
from crawler.takedown.submit import submit
from tests.takedown_support import MEMBER, TAKEDOWN, add_listings, config


class SimulatedCrash(Exception):
    pass


def _queue(sessions: sessionmaker[Session], n: int) -> None:
    lids = add_listings(sessions, n)
    with session_scope(sessions) as session:
        for lid in lids:
            enqueue_from_match(session, lid, MEMBER, TAKEDOWN, config=config())


def test_crash_between_post_and_commit_files_nothing_twice_and_loses_nothing(
    db_sessions: sessionmaker[Session],
) -> None:
    _queue(db_sessions, 650)
    app = build_app("demobay")
    intake = app.state.site.intake
    posted: list[int] = []

    def crash_on_second(batch_id: int, answer: dict) -> None:
        posted.append(batch_id)
        if len(posted) == 2:
            raise SimulatedCrash("killed after the POST, before recording it")

    with ServerThread(app) as server:
        urls = {"demobay": server.url}
        with pytest.raises(SimulatedCrash):
            submit(db_sessions, config(), urls=urls, worker="a", allow_without_evidence=True,
                   after_post=crash_on_second)
        assert intake.complaint_count == 2
        with session_scope(db_sessions) as session:
            states = dict(session.execute(select(NoticeBatch.id, NoticeBatch.state)).all())
        assert sorted(states.values()) == ["prepared", "submitted", "submitting"]
        # A fresh worker before the lease ran out leaves the crashed batch alone...
        early = submit(db_sessions, config(), urls=urls, worker="b", lease_s=3600)
        assert [b for b, _c, _n in early.filed] == [max(states)]
        # ...and after it, re-sends it under the same key: the intake answers the same complaint.
        late = submit(db_sessions, config(), urls=urls, worker="c", lease_s=0)
        assert late.posts == 1 and len(late.filed) == 1
    assert intake.complaint_count == 3  # three batches, three complaints: none filed twice
    assert intake.posts == 4
    with session_scope(db_sessions) as session:
        batches = list(session.execute(select(NoticeBatch)).scalars())
        requests = list(session.execute(select(TakedownRequest)).scalars())
    assert {b.state for b in batches} == {"submitted"}
    assert {b.idempotency_key: b.complaint_id for b in batches} == intake.keys
    assert len(requests) == 650 and {r.state for r in requests} == {"submitted"}
    by_batch = {b.id: b.complaint_id for b in batches}
    assert all(r.complaint_id == by_batch[r.notice_batch_id] for r in requests)
    filed = sorted(lid for c in intake.complaints.values() for lid in c["listings"])
    assert len(filed) == len(set(filed)) == 650  # nothing lost, nothing twice


def test_busy_intake_is_retried_honouring_retry_after(db_sessions: sessionmaker[Session]) -> None:
    _queue(db_sessions, 3)
    app = build_app("demomart", SiteOptions(intake_flaky=2))
    with ServerThread(app) as server:
        result = submit(db_sessions, config(), urls={"demomart": server.url, "demobay":
                                                     server.url},
                        allow_without_evidence=True, backoff=0.01)
    assert result.failed == [] and len(result.filed) == 1 and result.posts == 3
    assert app.state.site.intake.complaint_count == 1


def test_refused_notice_marks_the_batch_failed(db_sessions: sessionmaker[Session]) -> None:
    _queue(db_sessions, 2)
    app = build_app("demobay")
    with ServerThread(app) as server:
        with session_scope(db_sessions) as session:  # break the stored payload
            from crawler.takedown.notices import prepare_batches

            prepare_batches(session, config(), "w", allow_without_evidence=True)
            batch = session.execute(select(NoticeBatch)).scalar_one()
            batch.payload = {**batch.payload, "signature": {"text": ""}}
        result = submit(db_sessions, config(), urls={"demobay": server.url})
    assert len(result.failed) == 1 and "422" in result.failed[0][1]
    assert "signature.text" in result.failed[0][1]
    with session_scope(db_sessions) as session:
        assert session.execute(select(NoticeBatch.state)).scalar_one() == "failed"

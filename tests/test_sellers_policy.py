"""The repeat-infringer policy: both presets at every boundary (just below, at and above each
threshold; strikes ageing out exactly at the end of the window), the referral criteria, the
evidence requirement, relistings, the reasons in words, and policy files that are refused with
the file and the key named.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from crawler.exceptions import ConfigError
from crawler.sellers.escalate import assess
from crawler.sellers.ledger import StrikeFact
from crawler.sellers.offence import classify_offence
from crawler.sellers.policy import (
    LEVELS,
    Policy,
    level_words,
    load_policy,
    parse_level,
    policy_from_dict,
    presets,
)
from tests.sellers_support import T0

DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)
THREE = load_policy("three_strikes")
POINTS = load_policy("points")


def strike(
    n: int,
    at: datetime,
    offence: str = "disc",
    *,
    evidence: bool = True,
    work: str | None = None,
    cites: int | None = None,
    sales: int | None = None,
    first_seen: datetime | None = None,
    seller: int = 1,
) -> StrikeFact:
    return StrikeFact(
        id=n,
        seller_id=seller,
        marketplace="demomart",
        request_id=100 + n,
        listing_id=200 + n,
        member="Warner Bros. Entertainment",
        catalog_id=work or f"work-{n}",
        work=work or f"Work {n}",
        offence=offence,
        struck_at=at,
        evidence_sha256=f"{n:064x}" if evidence else None,
        cites_request_id=cites,
        listing_first_seen=first_seen or at - 10 * DAY,
        sales_count=sales,
        listing_key=f"L{n}",
        listing_url=f"http://127.0.0.1:9/item.htm?id=L{n}",
        listing_title=f"listing {n}",
    )


def strikes(count: int, at: datetime = T0, offence: str = "disc") -> list[StrikeFact]:
    return [strike(i + 1, at + i * SECOND, offence) for i in range(count)]


# -- presets ----------------------------------------------------------------------------------
def test_presets_ship_and_load_with_documented_rules() -> None:
    assert presets() == ["points", "three_strikes"]
    assert load_policy(None).name == "three_strikes"
    assert (THREE.unit, THREE.window_days, THREE.after_window) == ("removals", 90, "watch")
    assert THREE.thresholds == (
        ("warning", 1),
        ("restriction_request", 2),
        ("termination_request", 3),
    )
    assert (POINTS.unit, POINTS.window_days, POINTS.relisting_points) == ("points", 365, 12)
    assert dict(POINTS.points) == {"disc": 12, "download": 6, "streaming": 6, "other": 2}
    assert POINTS.thresholds == (
        ("watch", 1),
        ("warning", 12),
        ("restriction_request", 24),
        ("termination_request", 48),
    )
    assert THREE.referral.copies_sold == POINTS.referral.copies_sold == 500
    readme = (Path(THREE.source).parent / "README.md").read_text("utf-8")
    assert "three_strikes" in readme and "points" in readme and "YouTube" in readme


def test_load_policy_by_path_and_unknown_preset(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(
        "name: mine\nunit: removals\nwindow_days: 30\n"
        "thresholds: {warning: 2, termination_request: 5}\n",
        "utf-8",
    )
    mine = load_policy(str(path))
    assert mine.name == "mine" and mine.level_for(4) == "warning" and mine.after_window is None
    with pytest.raises(ConfigError, match="unknown policy preset 'nosuch'.*points"):
        load_policy("nosuch")
    with pytest.raises(ConfigError, match="cannot read policy file"):
        load_policy(str(tmp_path / "missing.yaml"))


def test_levels_are_shown_in_words() -> None:
    assert [level_words(lv) for lv in LEVELS] == [
        "watch",
        "warning",
        "restriction request",
        "termination request",
        "law-enforcement referral",
    ]
    assert parse_level("Termination Request") == "termination_request"
    assert parse_level("law-enforcement referral") == "law_enforcement_referral"
    with pytest.raises(ValueError, match="unknown level"):
        parse_level("banned")


# -- three strikes ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("count", "level"),
    [
        (0, None),
        (1, "warning"),
        (2, "restriction_request"),
        (3, "termination_request"),
        (4, "termination_request"),
    ],
)
def test_three_strikes_level_at_each_count(count: int, level: str | None) -> None:
    result = assess(THREE, strikes(count), T0 + DAY)
    assert result.level == level
    assert result.in_window == result.total == count
    assert len(result.evidence) == count


def test_three_strikes_reason_in_words_names_threshold_and_next_level() -> None:
    assert assess(THREE, strikes(4), T0 + DAY).reason == (
        "4 accepted removals in 90 days: 3 needed for termination request"
    )
    assert assess(THREE, strikes(2), T0 + DAY).reason == (
        "2 accepted removals in 90 days: 2 needed for restriction request; "
        "3 for termination request"
    )
    assert assess(THREE, strikes(1), T0 + DAY).reason.startswith(
        "1 accepted removal in 90 days: 1 needed for warning"
    )


def test_three_strikes_strike_ages_out_exactly_at_90_days() -> None:
    one = [strike(1, T0)]
    assert assess(THREE, one, T0 + 90 * DAY - SECOND).level == "warning"
    aged = assess(THREE, one, T0 + 90 * DAY)
    assert aged.level == "watch" and aged.in_window == 0 and aged.expired == 1
    assert "kept on watch" in aged.reason and "1 older aged out" in aged.reason
    assert [e["strike_id"] for e in aged.evidence] == [1]  # the history that keeps the watch


def test_three_strikes_termination_falls_back_as_strikes_age_out() -> None:
    spread = [strike(1, T0), strike(2, T0 + 10 * DAY), strike(3, T0 + 89 * DAY)]
    assert assess(THREE, spread, T0 + 89 * DAY).level == "termination_request"
    assert assess(THREE, spread, T0 + 90 * DAY).level == "restriction_request"
    assert assess(THREE, spread, T0 + 100 * DAY).level == "warning"
    assert assess(THREE, spread, T0 + 179 * DAY).level == "watch"


def test_strike_confirmed_after_as_of_does_not_count_yet() -> None:
    assert assess(THREE, [strike(1, T0 + DAY)], T0).level is None


# -- points -----------------------------------------------------------------------------------
def _points(*offences: str) -> list[StrikeFact]:
    return [strike(i + 1, T0 + i * SECOND, o) for i, o in enumerate(offences)]


@pytest.mark.parametrize(
    ("offences", "total", "level"),
    [
        ((), 0, None),
        (("other",), 2, "watch"),
        (("other",) * 5, 10, "watch"),  # just below 12
        (("disc",), 12, "warning"),  # at 12
        (("download", "download"), 12, "warning"),
        (("disc", "other"), 14, "warning"),  # above 12
        (("disc", "download", "other", "other"), 22, "warning"),  # just below 24
        (("disc", "disc"), 24, "restriction_request"),  # at 24
        (("disc", "disc", "other"), 26, "restriction_request"),  # above 24
        (("disc", "disc", "disc", "download", "other", "other"), 46, "restriction_request"),
        (("disc",) * 4, 48, "termination_request"),  # at 48
        (("disc",) * 4 + ("other",), 50, "termination_request"),  # above 48
    ],
)
def test_points_level_at_each_threshold(
    offences: tuple[str, ...], total: int, level: str | None
) -> None:
    result = assess(POINTS, _points(*offences), T0 + DAY)
    assert (result.total, result.level) == (total, level)


def test_points_reason_lists_offences_and_next_level() -> None:
    result = assess(POINTS, _points("disc", "disc", "download"), T0 + DAY)
    assert result.reason == (
        "30 points in 365 days (2 disc removals x 12 + 1 download removal x 6): "
        "24 needed for restriction request; 48 for termination request"
    )


def test_points_relisting_adds_its_points() -> None:
    first = strike(1, T0, "disc", work="war-the-matrix-1999")
    cited = strike(2, T0 + 30 * DAY, "download", work="war-inception-2010", cites=77)
    # The same work again, in a listing first seen after the first removal: a relisting.
    again = strike(3, T0 + 60 * DAY, "other", work="war-the-matrix-1999", first_seen=T0 + 40 * DAY)
    result = assess(POINTS, [first, cited, again], T0 + 61 * DAY)
    assert result.total == 12 + (6 + 12) + (2 + 12) and result.relistings == 2
    assert "+ 2 relistings x 12" in result.reason
    assert result.level == "restriction_request"


def test_points_age_out_exactly_at_365_days() -> None:
    four = _points("disc", "disc", "disc", "disc")
    last = four[-1].struck_at
    assert assess(POINTS, four, last + 365 * DAY - 4 * SECOND).level == "termination_request"
    assert assess(POINTS, four, four[0].struck_at + 365 * DAY).level == "restriction_request"
    gone = assess(POINTS, four, last + 365 * DAY)
    assert gone.level is None and gone.expired == 4  # points.yaml: no after-window level
    assert gone.evidence == []


# -- referral ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("sales", "referred"), [(499, False), (500, True), (800, True)])
def test_referral_at_500_copies_sold(sales: int, referred: bool) -> None:
    listing = [strike(1, T0, sales=sales - 100), strike(2, T0 + DAY, sales=100)]
    result = assess(THREE, listing, T0 + 2 * DAY)
    assert (result.level == "law_enforcement_referral") is referred
    assert result.copies_sold == sales
    if referred:
        assert f"{sales} copies sold on removed listings: 500 needed" in result.reason


def test_referral_after_repeated_offences_following_termination_request() -> None:
    three = strikes(3)
    assert assess(THREE, three, T0 + DAY).level == "termination_request"
    # Removals of listings that were already up do not count as offences after the request.
    late = [
        *three,
        strike(4, T0 + 30 * DAY, first_seen=T0 - DAY),
        strike(5, T0 + 31 * DAY, first_seen=T0 - DAY),
    ]
    assert assess(THREE, late, T0 + 32 * DAY).level == "termination_request"
    # One listing put up after it: not yet repeated; two: referral.
    once = [*three, strike(4, T0 + 30 * DAY, first_seen=T0 + 20 * DAY)]
    assert assess(THREE, once, T0 + 32 * DAY).level == "termination_request"
    twice = [*once, strike(5, T0 + 31 * DAY, first_seen=T0 + 25 * DAY)]
    result = assess(THREE, twice, T0 + 32 * DAY)
    assert result.level == "law_enforcement_referral"
    assert (
        "2 accepted removals of listings put up after reaching termination request on "
        "2026-03-01: 2 needed for law-enforcement referral"
    ) in result.reason
    assert len(result.evidence) == 5


def test_termination_is_replayed_with_the_sliding_window() -> None:
    # Never three within 90 days: termination was never reached, so no referral either.
    spread = [
        strike(1, T0),
        strike(2, T0 + 60 * DAY),
        strike(3, T0 + 150 * DAY),
        strike(4, T0 + 160 * DAY, first_seen=T0 + 155 * DAY),
        strike(5, T0 + 170 * DAY, first_seen=T0 + 165 * DAY),
    ]
    result = assess(THREE, spread, T0 + 171 * DAY)
    assert result.level == "termination_request" and result.referral is None
    assert assess(THREE, spread[:4], T0 + 161 * DAY).level == "restriction_request"


def test_one_listing_removed_once_counts_once_whatever_the_members() -> None:
    # A collection listing reported by two members, removed at one re-crawl: one removal.
    warner = strike(1, T0, "disc")
    universal = replace(
        strike(2, T0, "disc"), listing_id=warner.listing_id, member="Universal City Studios"
    )
    result = assess(POINTS, [warner, universal, strike(3, T0 + DAY)], T0 + 2 * DAY)
    assert (result.in_window, result.total, result.level) == (2, 24, "restriction_request")
    assert sorted(e["strike_id"] for e in result.evidence) == [1, 2, 3]
    # Removed again after coming back: a second removal of the same listing.
    again = replace(strike(4, T0 + 20 * DAY), listing_id=warner.listing_id, cites_request_id=101)
    assert assess(THREE, [warner, universal, again], T0 + 21 * DAY).in_window == 2


# -- evidence ---------------------------------------------------------------------------------
def test_strikes_without_evidence_never_count() -> None:
    bare = [replace(s, evidence_sha256=None) for s in strikes(3)]
    result = assess(THREE, bare, T0 + DAY)
    assert result.level is None and result.total == 0 and result.evidence == []
    assert "3 accepted removals without evidence not counted" in result.reason
    mixed = assess(THREE, [*strikes(1), strike(9, T0, evidence=False)], T0 + DAY)
    assert mixed.level == "warning" and mixed.unevidenced == 1


# -- offence kinds ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("title", "description", "offence"),
    [
        ("黑客帝国 1999 蓝光 DVD 光盘 国语中字", None, "disc"),
        ("The Matrix DVD-R region free", None, "disc"),
        ("盗梦空间 蓝光原盘 百度网盘 4K资源", None, "download"),
        ("Inception.2010.1080p.BluRay.x264", None, "download"),
        ("The Matrix Digital Code HD", None, "download"),
        ("黑客帝国 会员 手机电脑通用", None, "streaming"),
        ("Inception HD Streaming Link Lifetime Access", None, "streaming"),
        ("黑客帝国 高清 1080P", "碟片质量好，不卡碟。加微信发网盘链接", "disc"),
        ("黑客帝国 高清", "拍下自动发货，网盘链接永久有效", "download"),
        ("黑客帝国 蓝光原盘", None, "disc"),
        ("The Matrix 1999 collection", None, "other"),
        ("黑客帝国 周边产品，不含影片光盘", None, "other"),
    ],
)
def test_offence_kind_from_listing_words(title: str, description: str | None, offence: str) -> None:
    assert classify_offence(title, description, ["The Matrix", "黑客帝国", "Inception"]) == offence


def test_offence_ignores_words_inside_the_work_title() -> None:
    assert classify_offence("The Missing Link DVD", works=["The Missing Link"]) == "disc"
    assert classify_offence("The Missing Link", works=["The Missing Link"]) == "other"


# -- invalid files ----------------------------------------------------------------------------
BASE = (
    "name: bad\nunit: removals\nwindow_days: 90\nthresholds: {warning: 1, termination_request: 3}\n"
)


@pytest.mark.parametrize(
    ("body", "needles"),
    [
        (
            (
                "name: bad\nunit: removals\nwindow_days: 90\n"
                "thresholds: {warning: 3, restriction_request: 3}\n"
            ),
            ("thresholds.restriction_request", "not above"),
        ),
        (
            (
                "name: bad\nunit: removals\nwindow_days: 90\n"
                "thresholds: {warning: 5, termination_request: 2}\n"
            ),
            ("thresholds.termination_request",),
        ),
        (
            "name: bad\nunit: removals\nwindow_days: 90\nthresholds: {banned: 3}\n",
            ("thresholds", "unknown level 'banned'"),
        ),
        (BASE.replace("window_days: 90", "window_days: -5"), ("window_days", "-5")),
        (BASE.replace("window_days: 90", "window_days: 0"), ("window_days",)),
        (BASE.replace("window_days: 90", "window_days: ninety"), ("window_days",)),
        (BASE.replace("window_days: 90\n", ""), ("window_days",)),
        (BASE + "points: {disc: 3}\n", ("points", "unit is 'removals'")),
        (
            BASE.replace("unit: removals", "unit: points") + "points: {disc: 3}\n",
            ("points", "missing download"),
        ),
        (
            BASE.replace("unit: removals", "unit: points")
            + "points: {disc: 1, download: 1, streaming: 1, other: 1, vinyl: 1}\n",
            ("points", "unknown offence", "vinyl"),
        ),
        (
            BASE.replace("unit: removals", "unit: points")
            + "points: {disc: -1, download: 1, streaming: 1, other: 1}\n",
            ("points.disc",),
        ),
        (BASE.replace("unit: removals", "unit: strikes"), ("unit", "strikes")),
        (BASE + "after_window: warning\n", ("after_window", "below the first threshold")),
        (BASE + "counts: detections\n", ("counts", "accepted_removals")),
        (BASE + "windw_days: 30\n", ("unknown key", "windw_days")),
        (
            (
                "name: bad\nunit: removals\nwindow_days: 90\nthresholds: {warning: 1}\n"
                "referral: {removals_after_termination_request: 1}\n"
            ),
            ("referral.removals_after_termination_request", "termination_request"),
        ),
        (BASE + "referral: {copies_sold: 0}\n", ("referral.copies_sold",)),
        (BASE + "referral: {felony: 1}\n", ("referral", "felony")),
        ("- just\n- a list\n", ("expected a mapping",)),
        ("name: [unclosed\n", ("not valid YAML",)),
        (BASE.replace("name: bad", "name: ''"), ("name",)),
    ],
)
def test_invalid_policy_file_is_refused_naming_file_and_key(
    tmp_path: Path, body: str, needles: tuple[str, ...]
) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(body, "utf-8")
    with pytest.raises(ConfigError) as caught:
        load_policy(str(path))
    message = str(caught.value)
    assert str(path) in message
    for needle in needles:
        assert needle in message, message


def test_valid_custom_policy_round_trips() -> None:
    policy = policy_from_dict(
        {
            "name": "strict",
            "unit": "points",
            "window_days": 30,
            "points": {"disc": 5, "download": 3, "streaming": 3, "other": 1},
            "thresholds": {"warning": 3, "law_enforcement_referral": 20},
            "linked_accounts": "ignore",
        },
        "strict.yaml",
    )
    assert isinstance(policy, Policy) and not policy.pool_linked
    assert policy.level_for(19) == "warning" and policy.level_for(20) == "law_enforcement_referral"
    assert policy.as_dict()["thresholds"] == {"warning": 3, "law_enforcement_referral": 20}

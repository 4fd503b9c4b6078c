"""Contact identifiers read from listing and shop text (``crawler.linking.identifiers``)."""

from __future__ import annotations

import time

import pytest

from crawler.linking.identifiers import MAX_TEXT_CHARS, extract, mask, normalize_address


def found(*texts: str) -> set[tuple[str, str]]:
    return {(h.kind, h.value) for h in extract(*texts)}


@pytest.mark.parametrize(
    "text",
    [
        "联系电话 13812345678",
        "手机：138-1234-5678",
        "tel 138.1234.5678",
        "电话 138 1234 5678 欢迎咨询",
        "+86 138 1234 5678",
        "0086-13812345678",
        "(+86) 138-1234-5678",
        "１３８１２３４５６７８",  # full-width digits
        "1 3 8 1 2 3 4 5 6 7 8",  # digit by digit
        "138\u200b1234\u200b5678",  # zero-width spaces between groups
        "电话①③⑧①②③④⑤⑥⑦⑧",  # circled digits
        "幺三八一二三四五六七八",  # Chinese numerals
    ],
)
def test_phone_found_in_every_written_form(text: str) -> None:
    assert ("phone", "13812345678") in found(text)


@pytest.mark.parametrize(
    "text",
    [
        "订单号：13812345678",  # an order number with a phone's shape
        "订单号 202311151381234567890",
        "ISBN 978-7-1381-2345-6",
        "ISBN 9787138123456",
        "EAN 6901381234567",
        "价格 ¥1380.00，2023-11-15 发货",
        "2019 2020 2021 2022 2023",
        "时间戳 1700000000000",
        "快递单号 SF13812345678",
        "12812345678 is not a mobile prefix",
        "10012345678",
        "1381234567",  # ten digits
        "138123456789",  # twelve digits
    ],
)
def test_numbers_that_are_not_phones_are_not_found(text: str) -> None:
    assert not {kind for kind, _ in found(text)} & {"phone", "qq"}


@pytest.mark.parametrize(
    ("text", "wechat"),
    [
        ("加微信 yingshi_7165 发网盘链接。", "yingshi_7165"),
        ("更多片源加V：yingshi_7165。", "yingshi_7165"),
        ("加微信yingshi_7165，拉你进片源群。", "yingshi_7165"),
        ("微信号：Movie-HD88", "movie-hd88"),
        ("VX: dvd2024box", "dvd2024box"),
        ("vx：hd_movies", "hd_movies"),
        ("wx: dianying888", "dianying888"),
        ("威信 abc-12345", "abc-12345"),
        ("薇信：dvd2024x", "dvd2024x"),
        ("V信 yp20572x", "yp20572x"),
        ("加v yp20572x", "yp20572x"),
        ("V：tk_store01", "tk_store01"),
        ("ＶＸ：ｄｖｄ９８８３６", "dvd98836"),  # full width
        ("WeChat: hdmovies", "hdmovies"),
        ("WeChat ID hd_movies", "hd_movies"),
        ("<b>微信</b>：<i>abc_1234</i>", "abc_1234"),  # tags are separators
    ],
)
def test_wechat_ids_after_every_keyword_form(text: str, wechat: str) -> None:
    assert ("wechat", wechat) in found(text)


@pytest.mark.parametrize(
    "text",
    [
        "电话/微信同号 17759336022。",
        "17759336022（微信同号）",
        "微信：177 5933 6022",
        "微信/手机 17759336022",
    ],
)
def test_phone_declared_as_wechat_is_both(text: str) -> None:
    assert {("phone", "17759336022"), ("wechat", "17759336022")} <= found(text)


def test_phone_after_other_contact_is_not_a_wechat() -> None:
    assert found("加微信 yingshi_7165，电话 17759336022") == {
        ("wechat", "yingshi_7165"),
        ("phone", "17759336022"),
    }


@pytest.mark.parametrize(
    "text",
    [
        "WeChat payments accepted",
        "微信支付 支付宝",
        "微信扫码下单",
        "张薇 abcdefgh",
        "vxabcdefg12",  # no separation between the word and an id
        "微信 1234567",  # digits that are no mobile number
        "微信 ab12",  # too short
        "微信 abcdefghijklmnopqrstuvwxyz123",  # too long
        "wxid 123",
    ],
)
def test_text_that_only_looks_like_wechat_gives_no_id(text: str) -> None:
    assert not {v for k, v in found(text) if k == "wechat"}


@pytest.mark.parametrize(
    ("text", "qq"),
    [
        ("有问题请联系QQ 2034778671。", "2034778671"),
        ("QQ号：12345", "12345"),
        ("扣扣：12345678", "12345678"),
        ("企鹅号 87654321", "87654321"),
        ("ＱＱ：２９４９４０８７３４", "2949408734"),
        ("Q：1826169621", "1826169621"),
        ("mail 1234567@qq.com", "1234567"),
    ],
)
def test_qq_numbers_need_their_keyword(text: str, qq: str) -> None:
    assert ("qq", qq) in found(text)


@pytest.mark.parametrize(
    "text",
    ["QQ群：99999999", "QQ 01234567", "QQ 1234", "12345678", "QQ音乐会员 2023", "Qty: 12345"],
)
def test_qq_group_numbers_and_bare_digits_are_not_qq(text: str) -> None:
    assert not {v for k, v in found(text) if k == "qq"}


@pytest.mark.parametrize(
    ("text", "email"),
    [
        ("Questions? Email HDMovies.585@Mail.Example.com.", "hdmovies.585@mail.example.com"),
        ("邮箱：shop_01＠example.cn", "shop_01@example.cn"),
        ("mail me: john [at] example [dot] com", "john@example.com"),
        ("contact: jane(at)example(dot)org", "jane@example.org"),
        ("email: jane at example dot org", "jane@example.org"),
    ],
)
def test_emails_lower_cased_and_deobfuscated(text: str, email: str) -> None:
    assert ("email", email) in found(text)


@pytest.mark.parametrize(
    "text", ["retina logo@2x.png", "sold at shop.example.com", "a @ b", "user@localhost"]
)
def test_asset_names_and_prose_are_not_emails(text: str) -> None:
    assert not {v for k, v in found(text) if k == "email"}


def test_return_address_normalised_and_bounded() -> None:
    hits = [
        h
        for h in extract(
            "退货地址：浙江省杭州市余杭区文一西路 88 号 拍下后自动发货，收件人张三 13812345678"
        )
        if h.kind == "address"
    ]
    assert [h.value for h in hits] == ["浙江省杭州市余杭区文一西路88号"]
    assert hits[0].shown.startswith("退货地址：浙江省杭州市")
    same = found("退换货地址: 浙江省杭州市余杭区文一西路88号。")
    assert ("address", "浙江省杭州市余杭区文一西路88号") in same
    english = found("Return address: 12 High Street, London E1 6AN. Thanks")
    assert ("address", "12highstreet,londone16an") in english
    long = extract("寄回地址：" + "北京市" * 500)
    assert all(len(h.value) <= 120 for h in long)
    assert normalize_address(" 北京市　朝阳区 ") == "北京市朝阳区"


def test_address_word_without_an_address_gives_none() -> None:
    assert not found("退货地址请联系客服。发货地址见详情")


def test_every_hit_quotes_the_text_as_shown() -> None:
    text = "全新正版！电话：１３８-１２３４-５６７８，微信 Movie_HD88"
    hits = {h.kind: h for h in extract(text)}
    assert hits["phone"].shown == "１３８-１２３４-５６７８"
    assert hits["phone"].shown in text
    assert hits["wechat"].value == "movie_hd88"
    assert "Movie_HD88" in hits["wechat"].shown


def test_one_hit_per_kind_and_value_across_texts() -> None:
    hits = extract("加微信 abc_1234", "微信：ABC_1234", None, "")
    assert [(h.kind, h.value) for h in hits] == [("wechat", "abc_1234")]


def test_demo_descriptions_give_their_contacts() -> None:
    # The forms the demo generator writes (fixtures/generate.py cn_description/en_description).
    assert found("碟片质量好，不卡碟。加微信 dvd98836 发网盘链接。") == {("wechat", "dvd98836")}
    assert found("Digital item, no returns. Questions? Email instanthd@mail.example.com.") == {
        ("email", "instanthd@mail.example.com")
    }


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert('微信 abc_1234')</script>" * 20000,
        "\x00\x1b[31m\x7f\u202e微信\ud800" * 50000,
        "1 " * 600_000,
        "微信" * 600_000,
        "<" * 1_100_000,
        "a@" * 600_000,
        "a." * 600_000,
        "退货地址" * 300_000,
        "㎏" * 1_100_000,  # expands under NFKC: the offset-map path
        ("a" * 60 + "@" + "b" * 60 + ".") * 9000,
        "+86 " * 300_000,
    ],
)
def test_hostile_megabyte_text_is_bounded_in_time(text: str) -> None:
    start = time.perf_counter()
    hits = extract(text)
    elapsed = time.perf_counter() - start
    assert elapsed < 6.0, elapsed
    assert len(hits) <= 5 * 50
    for hit in hits:
        assert "\x00" not in hit.shown and "\x1b" not in hit.shown


def test_contact_at_the_end_of_long_text_is_found_within_the_limit() -> None:
    filler = "正品保证，全国包邮。" * ((MAX_TEXT_CHARS - 100) // 10)
    assert ("wechat", "dvd98836") in found(filler + "加微信 dvd98836")
    assert ("wechat", "dvd98836") not in found(filler + "x" * 200 + "加微信 dvd98836")


def test_mask_hides_most_of_a_value() -> None:
    assert mask("phone", "13812345678") == "138****5678"
    assert mask("wechat", "yingshi_7165") == "yi********65"
    assert mask("qq", "2034778671") == "20******71"
    assert mask("email", "hdmovies.585@mail.example.com") == "hd***@mail.example.com"
    assert mask("address", "浙江省杭州市余杭区文一西路88号") == "浙江省杭州市…"
    assert mask("image", "d1c4b2a39e8f7061") == "d1c4b2a39e8f7061"
    assert "12345678" not in mask("phone", "13812345678")

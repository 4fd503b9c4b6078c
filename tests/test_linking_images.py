"""Perceptual hashes of product images (``crawler.linking.images``), and the demo photos."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image, ImageDraw, ImageFilter

from crawler.demo.photos import listing_photo, operator_groups, photo_png
from crawler.linking.images import (
    MAX_IMAGE_PIXELS,
    ImageRefused,
    check_phash,
    hamming,
    image_phash,
)


def photo(seed: int, size: int = 320) -> Image.Image:
    """A made-up "product photo": a gradient with shapes placed by ``seed``."""
    im = Image.new("RGB", (size, size))
    draw = ImageDraw.Draw(im)
    for y in range(size):
        draw.line([(0, y), (size, y)], fill=((y * 3 + seed * 40) % 256, (seed * 70) % 256, y % 256))
    for k in range(4):
        x, y = (seed * 97 + k * 61) % (size - 80), (seed * 53 + k * 89) % (size - 80)
        draw.ellipse([x, y, x + 40 + 10 * k, y + 60], fill=((seed * 30 + k * 80) % 256, 40, 200))
    return im.filter(ImageFilter.GaussianBlur(1))


def encode(im: Image.Image, fmt: str = "PNG", **kw: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
        + chunk(b"IEND", b"")
    )


def test_near_identical_copies_hash_within_a_few_bits() -> None:
    original = photo(1)
    base = image_phash(encode(original))
    resized = image_phash(encode(original.resize((200, 200))))
    jpeg = image_phash(encode(original, "JPEG", quality=60))
    marked = original.copy()
    ImageDraw.Draw(marked).rectangle([310, 310, 315, 315], fill=(255, 255, 0))
    stamped = image_phash(encode(marked))
    assert base.media_type == "image/png" and jpeg.media_type == "image/jpeg"
    assert (base.width, base.height) == (320, 320)
    for copy in (resized, jpeg, stamped):
        assert hamming(base.phash, copy.phash) <= 6, copy


def test_different_photos_hash_far_apart() -> None:
    hashes = [image_phash(encode(photo(seed))).phash for seed in range(2, 8)]
    for i, a in enumerate(hashes):
        for b in hashes[i + 1 :]:
            assert hamming(a, b) > 10, (a, b)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello",
        b"<html><body>not an image</body></html>",
        b"\x89PNG\r\n\x1a\n" + b"x" * 50,
        b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n",
    ],
)
def test_non_images_are_refused(data: bytes) -> None:
    with pytest.raises(ImageRefused):
        image_phash(data)


def test_formats_outside_the_raster_list_are_refused() -> None:
    with pytest.raises(ImageRefused, match="not an image"):
        image_phash(encode(photo(1), "TIFF"))


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_decompression_bombs_are_refused_from_the_header() -> None:
    with pytest.raises(ImageRefused, match="decompression bomb"):
        image_phash(png_header_only(10_000, 10_000))  # over our limit
    with pytest.raises(ImageRefused, match="decompression bomb"):
        image_phash(png_header_only(100_000, 100_000))  # over Pillow's own
    assert 10_000 * 10_000 > MAX_IMAGE_PIXELS


def test_oversized_payloads_are_refused() -> None:
    data = encode(photo(1))
    with pytest.raises(ImageRefused, match="limit"):
        image_phash(data, max_bytes=len(data) - 1)


def test_hamming_counts_differing_bits_and_checks_its_input() -> None:
    assert hamming("0000000000000000", "0000000000000000") == 0
    assert hamming("0000000000000000", "ffffffffffffffff") == 64
    assert hamming("8000000000000001", "0000000000000000") == 2
    with pytest.raises(ValueError):
        check_phash("abc")
    with pytest.raises(ValueError):
        hamming("zzzzzzzzzzzzzzzz", "0000000000000000")


def test_demo_operator_photos_are_near_identical_and_others_distinct() -> None:
    sellers = [
        {"id": "1", "contact": {"phone": "13812345678", "wechat": "a_12345"}},
        {"id": "2", "contact": {"phone": "13812345678", "wechat": ""}},
        {"id": "3", "contact": {"phone": "", "wechat": "a_12345"}},
        {"id": "4", "contact": {"phone": "13900000000", "wechat": ""}},
    ]
    groups = operator_groups(sellers)
    assert set(groups) == {"1", "2", "3"} and len(set(groups.values())) == 1
    work = {"catalog_ids": ["war-the-matrix-1999"], "title": "黑客帝国 DVD"}
    group = groups["1"]
    mine = [
        image_phash(listing_photo(f"{lid}_1.jpg", work, group)).phash
        for lid in ("100", "200", "300")
    ]
    other_work = image_phash(
        listing_photo("400_1.jpg", {"catalog_ids": ["par-titanic-1997"]}, group)
    ).phash
    stranger = image_phash(listing_photo("500_1.jpg", work, None)).phash
    for a in mine:
        for b in mine:
            assert hamming(a, b) <= 6
        assert hamming(a, other_work) > 10
        assert hamming(a, stranger) > 10
    # A thumbnail shows the same picture as the full image.
    assert listing_photo("500_1.jpg_230x230.jpg", work, None) == photo_png("500_1.jpg")

"""Placeholder "product photos" for the demo marketplaces' ``/img/<name>`` routes.

Each picture is drawn from a seed: a smooth field of colours (a 5×5 grid of random colours,
bilinearly blended) with a few solid shapes on it, so different seeds give pictures whose
perceptual hashes differ by about half their bits, like different photographs. A ``mark`` adds a
small square in one corner (a shop's sticker or watermark): the same seed with different marks
gives near-identical pictures, a few pHash bits apart, which is how one operator's re-uploads of
one product photo look across its accounts.

Pure Python (``zlib`` + ``struct``) so the demo servers need no imaging library.

No settings affect this module.
"""

from __future__ import annotations

import hashlib
import random
import re
import struct
import zlib
from collections.abc import Iterable, Mapping
from typing import Any

GRID = 5
SHAPES = 4
MARK_SIZE = 1  # pixels of the drawing grid (2 × 2 in the served picture): a tiny mark
SCALE = 2  # drawn at half size and doubled: a quarter of the work, the same pHash


def _rng(text: str) -> random.Random:
    return random.Random(int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big"))


def _colour(rng: random.Random) -> tuple[int, int, int]:
    return rng.randrange(256), rng.randrange(256), rng.randrange(256)


def photo_pixels(seed: str, mark: str | None = None, size: int = 96) -> list[bytearray]:
    """Rows of RGB bytes of the picture for ``seed`` (and ``mark``), ``size`` × ``size``."""
    small = _draw(seed, mark, max(GRID, -(-size // SCALE)))
    rows: list[bytearray] = []
    for src in small:
        row = bytearray(b"".join(bytes(src[i : i + 3]) * SCALE for i in range(0, len(src), 3)))
        rows.extend(bytearray(row[: 3 * size]) for _ in range(SCALE))
    return rows[:size]


def _draw(seed: str, mark: str | None, size: int) -> list[bytearray]:
    rng = _rng(seed)
    grid = [[_colour(rng) for _ in range(GRID)] for _ in range(GRID)]
    step = (size - 1) / (GRID - 1)
    cells = [min(GRID - 2, int(i / step)) for i in range(size)]
    across = [(g, i / step - g) for i, g in enumerate(cells)]
    rows: list[bytearray] = []
    for y in range(size):
        gy = cells[y]
        fy = y / step - gy
        # Blend the two grid rows first, then along the row: one blend per channel and pixel.
        col = [
            [top[ch] + (bottom[ch] - top[ch]) * fy for ch in range(3)]
            for top, bottom in zip(grid[gy], grid[gy + 1], strict=True)
        ]
        rows.append(
            bytearray(
                int(col[gx][ch] + (col[gx + 1][ch] - col[gx][ch]) * fx)
                for gx, fx in across
                for ch in range(3)
            )
        )
    for _ in range(SHAPES):  # the "product": a few solid blocks and discs
        colour = bytes(_colour(rng))
        cx, cy = rng.randrange(size), rng.randrange(size)
        rx, ry = rng.randrange(size // 10, size // 3), rng.randrange(size // 10, size // 3)
        disc = rng.random() < 0.5
        for y in range(max(0, cy - ry), min(size, cy + ry)):
            for x in range(max(0, cx - rx), min(size, cx + rx)):
                if not disc or ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1.0:
                    rows[y][3 * x : 3 * x + 3] = colour
    if mark is not None:
        mrng = _rng("mark:" + mark)
        colour = bytes(_colour(mrng))
        corner = mrng.randrange(4)
        x0 = 1 if corner in (0, 2) else size - MARK_SIZE - 1
        y0 = 1 if corner in (0, 1) else size - MARK_SIZE - 1
        for y in range(y0, y0 + MARK_SIZE):
            rows[y][3 * x0 : 3 * (x0 + MARK_SIZE)] = colour * MARK_SIZE
    return rows


def encode_png(rows: list[bytearray]) -> bytes:
    """A truecolour PNG of ``rows`` (RGB bytes, all the same length)."""
    height, width = len(rows), len(rows[0]) // 3
    raw = b"".join(b"\x00" + bytes(row) for row in rows)

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


def photo_png(seed: str, mark: str | None = None, size: int = 96) -> bytes:
    """The PNG of :func:`photo_pixels`."""
    return encode_png(photo_pixels(seed, mark, size))


_IMAGE_NAME = re.compile(r"^(?P<listing>[A-Za-z0-9-]+)_(?P<n>\d{1,3})\.[A-Za-z]{3,4}")
_SIZE_SUFFIX = re.compile(r"_\d{2,4}x\d{2,4}\.[A-Za-z]{3,4}$")


def operator_groups(sellers: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Seller id -> a key naming the operator, for sellers that share a contact with another.

    Accounts run by one operator share a phone, WeChat, QQ or email in the data; they also
    share product photos (see :func:`listing_photo`).
    """
    owners: dict[str, set[str]] = {}
    for seller in sellers:
        for kind, value in sorted((seller.get("contact") or {}).items()):
            if value:
                owners.setdefault(f"{kind}:{value}", set()).add(str(seller.get("id")))
    groups: dict[str, str] = {}
    for key, ids in sorted(owners.items()):
        if len(ids) < 2:
            continue
        known = sorted({groups[i] for i in ids if i in groups})
        group = known[0] if known else key
        for sid in list(groups):  # merge groups this value bridges
            if groups[sid] in known:
                groups[sid] = group
        for sid in ids:
            groups[sid] = group
    return groups


def listing_photo(name: str, listing: Mapping[str, Any] | None, group: str | None) -> bytes:
    """The picture served as ``/img/<name>`` (``<listing id>_<n>.jpg``, thumbnail suffixes
    such as ``_230x230.jpg`` show the same picture).

    Sellers of one operator ``group`` show the same photo of a work (its first catalogue id,
    else its title) for the n-th image, with a tiny per-listing mark; everything else gets a
    picture of its own.
    """
    base = _SIZE_SUFFIX.sub("", name)
    parsed = _IMAGE_NAME.match(base)
    if parsed is None or listing is None or group is None:
        return photo_png(base)
    work = (listing.get("catalog_ids") or [None])[0] or str(listing.get("title") or "")
    return photo_png(
        f"operator:{group}|{work}|{parsed['n']}", mark=f"{parsed['listing']}_{parsed['n']}"
    )

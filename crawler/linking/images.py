"""Perceptual hashes of product images, to find accounts that post the same photographs.

:func:`image_phash` reads an image's bytes with Pillow and returns its 64-bit pHash
(``imagehash.phash``: DCT of a 32×32 grey thumbnail, low 8×8 frequencies against their median)
as 16 hex digits, with the format and size it read. Re-encoding, resizing, small marks and
colour shifts move a pHash by a few bits; different photographs differ by about half of them.
:func:`hamming` counts the differing bits.

Scraped images are hostile: anything that is not an image Pillow can decode is refused with
:class:`ImageRefused`, and so are decompression bombs (an image declaring more than
:data:`MAX_IMAGE_PIXELS` pixels is refused from its header, before anything is decoded) and
payloads over :data:`MAX_IMAGE_BYTES`.

No settings affect this module (``pipelines/identifiers.py`` passes its own limits).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import imagehash
from PIL import Image, UnidentifiedImageError

HASH_BITS = 64
MAX_IMAGE_BYTES = 8 * 1024 * 1024
# Product photos are well under this; Pillow's own bomb check only warns below ~89 M pixels.
MAX_IMAGE_PIXELS = 40_000_000
# Only plain raster formats: Pillow would hand EPS/PDF-like formats to outside programs
# (Ghostscript), which no scraped byte should ever reach.
FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP")


class ImageRefused(ValueError):
    """Bytes that are not an image we agree to decode (with the reason)."""


@dataclass(frozen=True)
class ImageHash:
    phash: str  # 16 hex digits
    media_type: str  # "image/png", "image/jpeg"...
    width: int
    height: int


def image_phash(
    data: bytes, *, max_bytes: int = MAX_IMAGE_BYTES, max_pixels: int = MAX_IMAGE_PIXELS
) -> ImageHash:
    """The pHash of the image in ``data``; :class:`ImageRefused` for anything else."""
    if not data:
        raise ImageRefused("no image: the body is empty")
    if len(data) > max_bytes:
        raise ImageRefused(f"image of {len(data):,} bytes is over the {max_bytes:,}-byte limit")
    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as im:
            width, height = im.size
            if width <= 0 or height <= 0:
                raise ImageRefused(f"image with no pixels ({width}x{height})")
            if width * height > max_pixels:
                raise ImageRefused(
                    f"decompression bomb refused: {width}x{height} = {width * height:,} pixels "
                    f"(limit {max_pixels:,})"
                )
            media_type = Image.MIME.get(im.format or "", "application/octet-stream")
            im.load()
            digest = str(imagehash.phash(im))
    except ImageRefused:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageRefused(f"decompression bomb refused: {exc}") from exc
    except UnidentifiedImageError as exc:
        raise ImageRefused(f"not an image ({', '.join(FORMATS)})") from exc
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError) as exc:
        raise ImageRefused(f"unreadable image: {type(exc).__name__}: {exc}") from exc
    return ImageHash(phash=digest, media_type=media_type, width=width, height=height)


def check_phash(value: str) -> int:
    """``value`` (16 hex digits) as an integer; ``ValueError`` otherwise."""
    if len(value) != HASH_BITS // 4:
        raise ValueError(f"not a {HASH_BITS}-bit hex pHash: {value!r}")
    return int(value, 16)


def hamming(a: str | int, b: str | int) -> int:
    """How many of the 64 bits differ between two pHashes (hex strings or integers)."""
    x = a if isinstance(a, int) else check_phash(a)
    y = b if isinstance(b, int) else check_phash(b)
    return (x ^ y).bit_count()

"""Photo I/O: every image enters the engine as float32 sRGB in [0, 1] and leaves through an atomic write.

Routes, chosen by the file's magic bytes (not its name):
- JPEG, 8-bit PNG, WebP, BMP: Pillow.
- 16-bit PNG: OpenCV (Pillow truncates 16-bit RGB PNG to 8 bits); metadata still comes from Pillow's
  header parse, and ICC/EXIF chunks are spliced into OpenCV's output on save.
- TIFF (8/16-bit, float): tifffile.

The pixel limit is checked from the header, before any pixel is decoded, so a decompression bomb costs
nothing. EXIF orientation is applied on load; JPEG/PNG exports keep EXIF with the orientation reset to 1.

It is also the one home of the resizing every capability shares (block-average and area shrinking, bilinear
resizing), backed by OpenCV, which is 8-20x faster than the numpy versions it replaced and equal to 1e-6. Why one
module over 300 lines: loading, resizing and saving share the Photo type and the format rules; split, each part
would import the others.

One module because it is the one home of image operations: every reader, writer and resize in the engine
goes through it, so a second copy has nowhere to hide.
"""

from __future__ import annotations

import struct
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from engine.errors import InputError
from engine.fsutil import atomic_file

DEFAULT_MAX_PIXELS = 120_000_000
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp")  # what load_photo reads
SAMPLE_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "camera")
ORIENTATION_TAG = 0x0112
ICC_TIFF_TAG = 34675
_PILLOW_FORMATS = ("JPEG", "PNG", "WEBP", "BMP")
_SUFFIX_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".tif": "TIFF", ".tiff": "TIFF"}


class ImageError(InputError):
    """A photo cannot be read or written; the message names the file and the reason."""


@dataclass(frozen=True, eq=False)
class Photo:
    """Pixels in the engine convention plus what a faithful export needs to carry over."""

    pixels: np.ndarray
    alpha: np.ndarray | None = None
    bit_depth: int = 8
    exif: bytes | None = None
    icc: bytes | None = None  # the profile the pixels are in: sRGB's once converted on load (`engine.icc`)
    path: Path | None = None
    source_icc: bytes | None = None  # the file's own profile when the pixels were converted from it

    def __post_init__(self) -> None:
        pixels = np.asarray(self.pixels, dtype=np.float32)
        if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.shape[0] == 0 or pixels.shape[1] == 0:
            raise ImageError(f"photo pixels must be H x W x 3, got shape {pixels.shape}")
        object.__setattr__(self, "pixels", pixels)
        if self.alpha is not None:
            alpha = np.asarray(self.alpha, dtype=np.float32)
            if alpha.shape != pixels.shape[:2]:
                raise ImageError(f"alpha shape {alpha.shape} does not match the pixels {pixels.shape[:2]}")
            object.__setattr__(self, "alpha", alpha)
        if self.bit_depth not in (8, 16):
            raise ImageError(f"bit depth must be 8 or 16, got {self.bit_depth}")

    @property
    def height(self) -> int:
        return self.pixels.shape[0]

    @property
    def width(self) -> int:
        return self.pixels.shape[1]

    def with_pixels(self, pixels: np.ndarray) -> Photo:
        """Same metadata, new pixels; alpha is resized along when an edit changed the size (upscaling)."""
        pixels = np.asarray(pixels, dtype=np.float32)
        alpha = self.alpha
        if alpha is not None and alpha.shape != pixels.shape[:2]:
            alpha = resize_bilinear(alpha, pixels.shape[0], pixels.shape[1])
        return Photo(pixels, alpha, self.bit_depth, self.exif, self.icc, self.path, self.source_icc)


@dataclass(frozen=True, eq=False)
class RawPhoto:
    """A photo as decoded, before the float conversion: H x W x 3 (RGB) or 4 (RGBA) samples, upright;
    uint8 or uint16 (float32 in [0, 1] for float TIFFs). Lets a whole-file job (the `apply` command)
    grade it in place, tile by tile, at 1-2 bytes per sample instead of 4."""

    values: np.ndarray
    bit_depth: int = 8
    exif: bytes | None = None
    icc: bytes | None = None
    path: Path | None = None
    source_icc: bytes | None = None

    @property
    def peak(self) -> float:
        """The sample value that means 1.0."""
        return {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(self.values.dtype, 1.0)

    def to_photo(self) -> Photo:
        scale = np.float32(self.peak)
        pixels = self.values[:, :, :3].astype(np.float32) / scale
        alpha = self.values[:, :, 3].astype(np.float32) / scale if self.values.shape[2] == 4 else None
        return Photo(pixels, alpha, self.bit_depth, self.exif, self.icc, self.path, self.source_icc)


def sample_photo(name: str = "astronaut") -> Photo:
    """A photo bundled with scikit-image (read from site-packages, no network)."""
    if name not in SAMPLE_PHOTOS:
        raise ImageError(f"unknown sample photo {name!r}; choose one of {', '.join(SAMPLE_PHOTOS)}")
    from skimage import data

    pixels = getattr(data, name)()
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[:, :, None], 3, axis=2)
    return Photo(pixels[:, :, :3].astype(np.float32) / 255.0)


# ---------------------------------------------------------------------------------------------- loading


def load_photo(path: str | Path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Photo:
    """Read a JPEG, PNG, TIFF, WebP or BMP file; raises ImageError naming the file and the reason."""
    return read_photo(path, max_pixels=max_pixels).to_photo()


def read_photo(path: str | Path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> RawPhoto:
    """`load_photo` without the float conversion: the decoded samples, upright, RGB or RGBA, in sRGB (an
    embedded RGB profile is converted from, see `engine.icc`)."""
    return _to_working_space(_decode(Path(path), max_pixels))


def _to_working_space(raw: RawPhoto) -> RawPhoto:
    from engine import icc

    if raw.icc is None or not icc.is_rgb_profile(raw.icc) or icc.is_srgb(raw.icc):
        return raw
    if not icc.convert_samples(raw.values, raw.peak, raw.icc, icc.srgb_profile()):
        return raw  # a profile we cannot apply exactly: pixels and tag kept as they are
    return RawPhoto(raw.values, raw.bit_depth, raw.exif, icc.srgb_profile(), raw.path, source_icc=raw.icc)


def _decode(path: Path, max_pixels: int) -> RawPhoto:
    if not path.exists():
        raise ImageError(f"{path}: no such file")
    if not path.is_file():
        raise ImageError(f"{path}: not a file")
    try:
        with path.open("rb") as stream:
            head = stream.read(32)
    except OSError as exc:
        raise ImageError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if not head:
        raise ImageError(f"{path}: empty file (0 bytes)")
    try:
        if head.startswith((b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")):
            return _load_tiff(path, max_pixels)
        if head.startswith(b"\x89PNG\r\n\x1a\n") and len(head) >= 26 and head[12:16] == b"IHDR" and head[24] == 16:
            return _load_png16(path, max_pixels)
        return _load_with_pillow(path, max_pixels)
    except ImageError:
        raise
    except MemoryError as exc:
        raise ImageError(f"{path}: not enough memory to decode this image") from exc
    except Exception as exc:  # decoders raise a zoo of types (OSError, ValueError, SyntaxError, struct.error...)
        raise ImageError(f"{path}: damaged or unsupported image ({exc})") from exc


def _check_size(path: Path, width: int, height: int, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise ImageError(f"{path}: image has zero size ({width} x {height})")
    if width * height > max_pixels:
        raise ImageError(
            f"{path}: {width} x {height} = {width * height:,} pixels exceeds the limit of {max_pixels:,} "
            "(possible decompression bomb)"
        )


def _open_pillow(path: Path, max_pixels: int):  # -> PIL.Image.Image
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path, formats=_PILLOW_FORMATS)
    except Image.DecompressionBombError as exc:
        raise ImageError(f"{path}: exceeds the pixel limit (possible decompression bomb)") from exc
    except UnidentifiedImageError as exc:
        raise ImageError(f"{path}: not an image (JPEG, PNG, TIFF, WebP or BMP expected)") from exc
    _check_size(path, image.width, image.height, max_pixels)
    return image


def _pillow_metadata(image) -> tuple[bytes | None, bytes | None, int]:
    exif = image.info.get("exif") or None
    icc = image.info.get("icc_profile") or None
    orientation = int(image.getexif().get(ORIENTATION_TAG, 1) or 1)
    return exif, icc, orientation


def _load_with_pillow(path: Path, max_pixels: int) -> RawPhoto:
    from PIL import Image

    with _open_pillow(path, max_pixels) as image:
        if image.format == "JPEG" and image.mode == "RGB":
            data = _decode_jpeg_with_opencv(path, image.width, image.height)
            if data is not None:
                return _make_raw(data, 8, *_pillow_metadata(image), path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image.load()  # raises OSError on a truncated file
        exif, icc, orientation = _pillow_metadata(image)
        has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
        mode = "RGBA" if has_alpha else "RGB"
        data = np.asarray(image if image.mode == mode else image.convert(mode))
    return _make_raw(data, 8, exif, icc, orientation, path)


def _decode_jpeg_with_opencv(path: Path, width: int, height: int) -> np.ndarray | None:
    """An RGB JPEG's samples decoded by OpenCV: the same libjpeg-turbo decode as Pillow's, byte for byte, in a
    third of the CPU time (Pillow's copy into numpy costs more than its decode). None, and Pillow decides,
    when the file does not end with the end-of-image marker (possibly truncated: OpenCV would only warn)."""
    import cv2

    data = np.fromfile(path, dtype=np.uint8)
    if data.size < 4 or data[-2] != 0xFF or data[-1] != 0xD9:
        return None
    _quiet_opencv(cv2)
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if bgr is None or bgr.shape != (height, width, 3):
        return None
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _load_png16(path: Path, max_pixels: int) -> RawPhoto:
    import cv2

    with _open_pillow(path, max_pixels) as image:
        exif, icc, orientation = _pillow_metadata(image)
    _quiet_opencv(cv2)
    data = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if data is None:
        raise ImageError(f"{path}: damaged or truncated PNG")
    if data.ndim == 2:
        data = data[:, :, None]
    order = {1: [0, 0, 0], 2: [0, 0, 0, 1], 3: [2, 1, 0], 4: [2, 1, 0, 3]}[data.shape[2]]  # BGR(A) -> RGB(A)
    return _make_raw(data[:, :, order], 16, exif, icc, orientation, path)


def _load_tiff(path: Path, max_pixels: int) -> RawPhoto:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        if not tif.pages:
            raise ImageError(f"{path}: TIFF holds no image")
        page = tif.pages.first
        _check_size(path, page.imagewidth, page.imagelength, max_pixels)
        end = max((o + c for o, c in zip(page.dataoffsets, page.databytecounts, strict=False)), default=0)
        if end > path.stat().st_size:
            raise ImageError(f"{path}: truncated TIFF (image data runs past the end of the file)")
        photometric = int(page.photometric)
        if photometric not in (0, 1, 2, 3, 6):  # MINISWHITE, MINISBLACK, RGB, PALETTE, YCBCR
            raise ImageError(f"{path}: unsupported TIFF colour model {photometric}")
        data = page.asarray()
        if page.planarconfig == 2 and data.ndim == 3:  # separate planes: (S, H, W)
            data = np.moveaxis(data, 0, -1)
        if photometric == 3 and page.colormap is not None:
            data = np.moveaxis(page.colormap, 0, -1)[data]
        tags = page.tags
        orientation = int(tags[274].value) if 274 in tags else 1
        icc = bytes(tags[ICC_TIFF_TAG].value) if ICC_TIFF_TAG in tags else None
    values, bit_depth = _plain_samples(path, data)
    if photometric == 0:
        values = (255 if values.dtype == np.uint8 else 65535 if values.dtype == np.uint16 else 1) - values
    if values.ndim == 2:
        values = values[:, :, None]
    channels = values.shape[2]
    if channels not in (1, 2, 3, 4):
        raise ImageError(f"{path}: unsupported TIFF with {channels} samples per pixel")
    if channels < 3:
        values = values[:, :, [0, 0, 0, 1][: channels + 2]]  # grey (+ alpha) -> RGB (+ alpha)
    return _make_raw(values, bit_depth, None, icc, orientation, path)


def _plain_samples(path: Path, data: np.ndarray) -> tuple[np.ndarray, int]:
    """uint8 and uint16 as they are; bilevel as 0/255; float clipped to [0, 1] (written back as 16 bit)."""
    if data.dtype in (np.uint8, np.uint16):
        return data, 8 if data.dtype == np.uint8 else 16
    if data.dtype == np.bool_:
        return data.astype(np.uint8) * np.uint8(255), 8
    if data.dtype.kind == "f":
        return np.clip(np.nan_to_num(data.astype(np.float32)), 0.0, 1.0), 16
    raise ImageError(f"{path}: unsupported sample type {data.dtype}")


def _make_raw(values, bit_depth, exif, icc, orientation, path) -> RawPhoto:
    # one contiguous, writable array (decoders hand out read-only buffers): graded in place by `apply`
    return RawPhoto(np.require(_orient(values, orientation), requirements=["C", "W"]), bit_depth, exif, icc, path)


def _orient(array: np.ndarray, orientation: int) -> np.ndarray:
    """Turn stored pixels upright per the EXIF orientation tag (1..8); unknown values mean upright."""
    if orientation in (5, 6, 7, 8):
        array = np.swapaxes(array, 0, 1)  # transpose; then flip to get the rotations
        flips = {5: (), 6: (1,), 7: (0, 1), 8: (0,)}[orientation]
    else:
        flips = {2: (1,), 3: (0, 1), 4: (0,)}.get(orientation, ())
    return np.flip(array, flips) if flips else array


def _quiet_opencv(cv2) -> None:
    """OpenCV prints decoder warnings on stderr; our error says it better."""
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)


# --------------------------------------------------------------------------------------------- resizing


def resize_bilinear(pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize of an H x W plane or H x W x C image, pixel centres aligned, no anti-aliasing (OpenCV)."""
    import cv2

    return np.ascontiguousarray(
        cv2.resize(np.asarray(pixels, np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    )


def fit_long_side(pixels: np.ndarray, long_side: int) -> np.ndarray:
    """Shrink (area average, never enlarge) so the longer side has `long_side` pixels: export resizing."""
    import cv2

    height, width = pixels.shape[:2]
    scale = long_side / max(height, width)
    if scale >= 1:
        return pixels
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.ascontiguousarray(cv2.resize(pixels, size, interpolation=cv2.INTER_AREA))


def shrink_by_blocks(pixels: np.ndarray, long_side: int) -> np.ndarray:
    """Average k x k pixel blocks, k the smallest whole number that brings the long side to `long_side` or less
    (the rows and columns a block would overhang are dropped), as float32. Every output pixel is the plain mean
    of whole source pixels: previews, thumbnails, histograms and training photos."""
    import cv2

    height, width = pixels.shape[:2]
    factor = min(-(-max(height, width) // max(1, long_side)), height, width)
    if factor <= 1:
        return np.ascontiguousarray(pixels, dtype=np.float32)
    rows, cols = height // factor, width // factor
    cropped = np.asarray(pixels[: rows * factor, : cols * factor], np.float32)
    return np.ascontiguousarray(cv2.resize(cropped, (cols, rows), interpolation=cv2.INTER_AREA))  # exact block means


# ---------------------------------------------------------------------------------------------- saving


PROFILES = ("working", "source")  # export in the working space (sRGB), or back in the file's own profile


def save_photo(
    photo: Photo, path: str | Path, *, bit_depth: int | None = None, quality: int = 95, profile: str = "working"
) -> None:
    """Write a JPEG, PNG or TIFF (format from the suffix) atomically: a failed write leaves nothing behind.
    The file is tagged with the profile its pixels are in; `profile="source"` converts them back to the
    profile the photo was opened in first (when it had one)."""
    path = Path(path)
    fmt, depth = _output_format(path, photo.bit_depth, bit_depth, quality)
    channels = photo.pixels if photo.alpha is None or fmt == "JPEG" else np.dstack([photo.pixels, photo.alpha])
    values = quantize(channels, depth)
    _write(path, fmt, values, photo.exif, _output_profile(values, photo.icc, photo.source_icc, profile), quality)


def save_raw(raw: RawPhoto, path: str | Path, *, quality: int = 95, profile: str = "working") -> None:
    """Write decoded samples as they are (JPEG: requantized to 8 bits, alpha dropped), atomically; with
    `profile="source"` they are first converted back to the source profile (in place)."""
    path = Path(path)
    fmt, depth = _output_format(path, raw.bit_depth, None, quality)
    values = raw.values if fmt != "JPEG" or raw.values.shape[2] == 3 else raw.values[:, :, :3]
    if values.dtype != (np.uint8 if depth == 8 else np.uint16):
        values = _requantize(values, raw.peak, depth)
    _write(path, fmt, values, raw.exif, _output_profile(values, raw.icc, raw.source_icc, profile), quality)


def _output_profile(values: np.ndarray, icc_now: bytes | None, source: bytes | None, profile: str) -> bytes | None:
    """The profile to tag the file with, converting `values` (in place) when exporting in the source's."""
    from engine import icc

    if profile not in PROFILES:
        raise ImageError(f"unknown output profile {profile!r}; choose one of {', '.join(PROFILES)}")
    if profile == "working" or source is None or icc_now is None:
        return icc_now
    peak = 255.0 if values.dtype == np.uint8 else 65535.0
    return source if icc.convert_samples(values, peak, icc_now, source) else icc_now


def quantize(values: np.ndarray, depth: int) -> np.ndarray:
    """Float samples in [0, 1] as uint8 or uint16 (rounded; NaN as 0)."""
    peak = 255 if depth == 8 else 65535
    return np.rint(np.clip(np.nan_to_num(values), 0.0, 1.0) * peak).astype(np.uint8 if depth == 8 else np.uint16)


def _requantize(values: np.ndarray, peak: float, depth: int, rows: int = 256) -> np.ndarray:
    """`quantize(values / peak)` a band of rows at a time (no full-size float copy)."""
    out = np.empty(values.shape, np.uint8 if depth == 8 else np.uint16)
    for top in range(0, values.shape[0], rows):
        out[top : top + rows] = quantize(values[top : top + rows].astype(np.float32) / np.float32(peak), depth)
    return out


def _output_format(path: Path, source_depth: int, bit_depth: int | None, quality: int) -> tuple[str, int]:
    fmt = _SUFFIX_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ImageError(f"{path}: unsupported output format {path.suffix or '(no suffix)'}; use .jpg, .png or .tif")
    depth = bit_depth if bit_depth is not None else (8 if fmt == "JPEG" else source_depth)
    if depth not in (8, 16):
        raise ImageError(f"{path}: bit depth must be 8 or 16, got {depth}")
    if fmt == "JPEG" and depth != 8:
        raise ImageError(f"{path}: JPEG holds only 8 bits per channel")
    if not 1 <= quality <= 100:
        raise ImageError(f"{path}: JPEG quality must be 1..100, got {quality}")
    return fmt, depth


def _write(path: Path, fmt: str, values: np.ndarray, exif: bytes | None, icc: bytes | None, quality: int) -> None:
    exif = _upright_exif(exif)
    try:
        with atomic_file(path) as stream:
            if fmt == "TIFF":
                _save_tiff(stream, values, icc)
            elif fmt == "PNG" and values.dtype == np.uint16:
                _save_png16(stream, values, exif, icc)
            else:
                _save_with_pillow(stream, values, fmt, exif, icc, quality)
    except ImageError:
        raise
    except OSError as exc:
        raise ImageError(f"{path}: cannot write ({exc.strerror or exc})") from exc


def _upright_exif(exif: bytes | None) -> bytes | None:
    """The EXIF block with orientation 1: the pixels we write are already upright."""
    if not exif:
        return None
    from PIL import Image

    try:
        parsed = Image.Exif()
        parsed.load(exif)
        if ORIENTATION_TAG in parsed:
            parsed[ORIENTATION_TAG] = 1
        return parsed.tobytes()
    except Exception:  # a malformed EXIF block from the source is dropped rather than failing the export
        return None


def _save_with_pillow(stream: BinaryIO, values: np.ndarray, fmt: str, exif, icc, quality: int) -> None:
    from PIL import Image

    image = Image.fromarray(values, "RGBA" if values.shape[2] == 4 else "RGB")
    options: dict[str, object] = {"icc_profile": icc} if icc else {}
    if exif:
        options["exif"] = exif
    if fmt == "JPEG":
        options.update(quality=quality, subsampling=0 if quality >= 90 else 2)
    image.save(stream, format=fmt, **options)


def _save_png16(stream: BinaryIO, values: np.ndarray, exif: bytes | None, icc: bytes | None) -> None:
    import cv2

    bgr = values[:, :, [2, 1, 0, 3]] if values.shape[2] == 4 else values[:, :, ::-1]
    ok, encoded = cv2.imencode(".png", np.ascontiguousarray(bgr))
    if not ok:
        raise ImageError("PNG encoder failed")
    chunks = []
    if icc:
        chunks.append((b"iCCP", b"ICC profile\x00\x00" + zlib.compress(icc)))
    if exif:
        chunks.append((b"eXIf", exif[6:] if exif.startswith(b"Exif\x00\x00") else exif))
    stream.write(_png_insert_chunks(encoded.tobytes(), chunks))


def _png_insert_chunks(png: bytes, chunks: list[tuple[bytes, bytes]]) -> bytes:
    """Insert ancillary chunks right after IHDR (8-byte signature + 25-byte IHDR chunk)."""
    extra = b"".join(
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data)) for kind, data in chunks
    )
    return png[:33] + extra + png[33:]


def _save_tiff(stream: BinaryIO, values: np.ndarray, icc: bytes | None) -> None:
    import tifffile

    extratags = [(ICC_TIFF_TAG, 7, len(icc), icc, True)] if icc else []
    tifffile.imwrite(
        stream,
        values,
        photometric="rgb",
        extrasamples=("unassalpha",) if values.shape[2] == 4 else None,
        compression="zlib",
        extratags=extratags,
    )

"""Colour management: photos are edited in sRGB, whatever profile they were saved in.

An embedded RGB ICC profile other than sRGB (Display P3 from phones, Adobe RGB from cameras and scanners)
is converted to sRGB on load, relative colorimetric as LittleCMS does it:
- 8-bit pixels go through LittleCMS itself (Pillow's ImageCms);
- 16-bit and float pixels through the profile's matrix and tone curves in float32 (every common RGB
  profile is a matrix/TRC profile; `MatrixShaper` reads its rXYZ/gXYZ/bXYZ and rTRC/gTRC/bTRC tags), which
  the tests hold to LittleCMS within a fraction of an 8-bit level.
A profile this cannot read exactly (a LUT-based or non-RGB one with 16-bit pixels) leaves the pixels as
they are, still tagged with it. `matrix_shaper_profile` writes such profiles (the tests make Display P3
and Adobe RGB photos with it).
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

D50 = np.array([0.9642, 1.0, 0.8249])
BRADFORD = np.array([[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]])


@lru_cache(maxsize=1)
def srgb_profile() -> bytes:
    """LittleCMS's built-in sRGB profile: the working space, and the tag of every converted export."""
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


# ------------------------------------------------------------------------------------------ tone curves


@dataclass(frozen=True)
class Curve:
    """An ICC tone curve: a gamma ('curv' with one entry), a table ('curv'), or a parametric curve ('para')."""

    gamma: float | None = None
    table: np.ndarray | None = None
    params: tuple[int, tuple[float, ...]] | None = None  # (function type 0..4, its parameters)

    def linearize(self, v: np.ndarray) -> np.ndarray:
        v = np.clip(v, 0.0, 1.0)
        if self.table is not None:
            return np.interp(v, np.linspace(0, 1, len(self.table)), self.table).astype(np.float32)
        if self.gamma is not None:
            return v**self.gamma
        assert self.params is not None, "a curve is a table, a gamma or a parametric function"
        kind, p = self.params
        g, a, b, c, d, e, f = (*p, 0, 0, 0, 0, 0, 0)[:7] if kind else (p[0], 1, 0, 0, 0, 0, 0)
        if kind == 1:
            return np.where(v >= -b / a, np.maximum(a * v + b, 0) ** g, 0)
        if kind == 2:
            return np.where(v >= -b / a, np.maximum(a * v + b, 0) ** g + c, c)
        if kind == 3:
            return np.where(v >= d, np.maximum(a * v + b, 0) ** g, c * v)
        if kind == 4:
            return np.where(v >= d, np.maximum(a * v + b, 0) ** g + e, c * v + f)
        return v**g

    def encode(self, y: np.ndarray) -> np.ndarray:
        """The inverse curve (monotonic curves), by inverting a fine table of it."""
        if self.gamma is not None:
            return np.clip(y, 0, 1) ** (1 / self.gamma)
        knots = np.linspace(0.0, 1.0, 4097)
        dense = np.maximum.accumulate(self.linearize(knots))
        return np.interp(np.clip(y, 0, 1), dense, knots).astype(np.float32)


def _parse_curve(data: bytes) -> Curve | None:
    kind = data[:4]
    if kind == b"curv":
        (count,) = struct.unpack(">I", data[8:12])
        if count == 0:
            return Curve(gamma=1.0)
        if count == 1:
            return Curve(gamma=struct.unpack(">H", data[12:14])[0] / 256.0)
        table = np.frombuffer(data[12 : 12 + 2 * count], ">u2").astype(np.float64) / 65535.0
        return Curve(table=table) if len(table) == count else None
    if kind == b"para":
        (function,) = struct.unpack(">H", data[8:10])
        counts = {0: 1, 1: 3, 2: 4, 3: 5, 4: 7}
        if function not in counts:
            return None
        raw = struct.unpack(f">{counts[function]}i", data[12 : 12 + 4 * counts[function]])
        return Curve(params=(function, tuple(v / 65536.0 for v in raw)))
    return None


# ------------------------------------------------------------------------------------------ profiles


@dataclass(frozen=True)
class MatrixShaper:
    """An RGB matrix/TRC profile: linear RGB = curves(encoded); PCS XYZ (D50) = matrix @ linear RGB."""

    matrix: np.ndarray
    curves: tuple[Curve, Curve, Curve]

    def to_xyz(self, rgb: np.ndarray) -> np.ndarray:
        linear = np.stack([curve.linearize(rgb[..., i]) for i, curve in enumerate(self.curves)], axis=-1)
        return linear.astype(np.float32) @ self.matrix.T.astype(np.float32)

    def from_xyz(self, xyz: np.ndarray) -> np.ndarray:
        linear = xyz @ np.linalg.inv(self.matrix).T.astype(np.float32)
        return np.stack([curve.encode(linear[..., i]) for i, curve in enumerate(self.curves)], axis=-1)

    def close_to(self, other: MatrixShaper) -> bool:
        """Same colorants within 1e-3 and the same curves within 1e-3 (as good as the same profile)."""
        probe = np.linspace(0, 1, 64, dtype=np.float32)
        return bool(
            np.abs(self.matrix - other.matrix).max() < 1e-3
            and all(
                np.abs(a.linearize(probe) - b.linearize(probe)).max() < 1e-3
                for a, b in zip(self.curves, other.curves, strict=True)
            )
        )


def _tags(icc: bytes) -> dict[bytes, bytes]:
    (count,) = struct.unpack(">I", icc[128:132])
    tags = {}
    for index in range(min(count, 100)):
        signature, offset, size = struct.unpack(">4sII", icc[132 + 12 * index : 144 + 12 * index])
        tags[signature] = icc[offset : offset + size]
    return tags


def matrix_shaper(icc: bytes) -> MatrixShaper | None:
    """The profile's matrix and curves if it is an RGB matrix/TRC display or input profile (None otherwise,
    also for one with A2B tables, which LittleCMS would use instead)."""
    try:
        if len(icc) < 132 or icc[16:20] != b"RGB " or icc[20:24] != b"XYZ ":
            return None
        tags = _tags(icc)
        if any(name in tags for name in (b"A2B0", b"A2B1", b"A2B2")):
            return None
        columns = []
        for name in (b"rXYZ", b"gXYZ", b"bXYZ"):
            data = tags[name]
            columns.append([v / 65536.0 for v in struct.unpack(">3i", data[8:20])])
        red, green, blue = (_parse_curve(tags[name]) for name in (b"rTRC", b"gTRC", b"bTRC"))
        if red is None or green is None or blue is None:
            return None
        return MatrixShaper(np.array(columns).T, (red, green, blue))
    except (KeyError, struct.error, ValueError):
        return None


def is_srgb(icc: bytes | None) -> bool:
    """No profile (the web's default), or one equivalent to sRGB."""
    if not icc or icc == srgb_profile():
        return True
    shaper, reference = matrix_shaper(icc), matrix_shaper(srgb_profile())
    return shaper is not None and reference is not None and shaper.close_to(reference)


def is_rgb_profile(icc: bytes | None) -> bool:
    return icc is not None and len(icc) >= 24 and icc[16:20] == b"RGB "


# ------------------------------------------------------------------------------------------ conversion


def convert_samples(values: np.ndarray, peak: float, source: bytes, target: bytes, *, rows: int = 256) -> bool:
    """Convert decoded samples (H x W x 3|4; uint8, uint16, or float with `peak` 1) in place from profile
    `source` to `target`; False (untouched) when this cannot be done exactly. Alpha is left alone."""
    if values.dtype == np.uint8:
        return _convert_with_littlecms(values, source, target)
    src, dst = matrix_shaper(source), matrix_shaper(target)
    if src is None or dst is None:
        return False
    for top in range(0, values.shape[0], rows):
        band = values[top : top + rows, :, :3]
        converted = dst.from_xyz(src.to_xyz(band.astype(np.float32) / np.float32(peak)))
        if values.dtype.kind == "f":
            band[...] = converted
        else:
            band[...] = np.rint(np.clip(converted, 0, 1) * peak)
    return True


def _convert_with_littlecms(values: np.ndarray, source: bytes, target: bytes) -> bool:
    from PIL import Image, ImageCms

    try:
        transform = _littlecms_transform(source, target)
    except (ImageCms.PyCMSError, OSError, ValueError):
        return False
    image = Image.fromarray(np.ascontiguousarray(values[:, :, :3]), "RGB")
    ImageCms.applyTransform(image, transform, inPlace=True)
    values[:, :, :3] = np.asarray(image)
    return True


@lru_cache(maxsize=8)
def _littlecms_transform(source: bytes, target: bytes):  # -> ImageCms.ImageCmsTransform
    from PIL import ImageCms

    return ImageCms.buildTransform(
        ImageCms.ImageCmsProfile(io.BytesIO(source)),
        ImageCms.ImageCmsProfile(io.BytesIO(target)),
        "RGB",
        "RGB",
        renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
    )


# ------------------------------------------------------------------------------------------ writing profiles


def matrix_shaper_profile(
    description: str, primaries: tuple[tuple[float, float], ...], white: tuple[float, float], curve: Curve
) -> bytes:
    """A version 2 RGB display profile (matrix/TRC) for the given xy primaries and white point and one tone
    curve for all channels: colorants Bradford-adapted to the D50 PCS, as ICC requires."""
    xyz = lambda x, y: np.array([x / y, 1.0, (1 - x - y) / y])  # noqa: E731
    columns = np.stack([xyz(*p) for p in primaries], axis=1)
    white_xyz = xyz(*white)
    to_xyz = columns * np.linalg.solve(columns, white_xyz)  # scale the primaries so RGB 1,1,1 is the white
    adapt = np.linalg.inv(BRADFORD) @ np.diag((BRADFORD @ D50) / (BRADFORD @ white_xyz)) @ BRADFORD
    pcs = adapt @ to_xyz

    def s15(values) -> bytes:
        return b"".join(struct.pack(">i", int(round(v * 65536))) for v in values)

    def xyz_tag(values) -> bytes:
        return b"XYZ \0\0\0\0" + s15(values)

    if curve.params is not None:
        kind, params = curve.params
        trc = b"para\0\0\0\0" + struct.pack(">HH", kind, 0) + s15(params)
    else:
        assert curve.gamma is not None, "an ICC curve written here is parametric or a plain gamma"
        trc = b"curv\0\0\0\0" + struct.pack(">IH", 1, int(round(curve.gamma * 256))) + b"\0\0"
    text = description.encode("ascii")
    desc = b"desc\0\0\0\0" + struct.pack(">I", len(text) + 1) + text + b"\0" + b"\0" * (4 + 4 + 2 + 1 + 67)
    tags = [
        (b"desc", desc),
        (b"cprt", b"text\0\0\0\0" + b"No copyright, use freely\0"),
        (b"wtpt", xyz_tag(D50)),
        (b"rXYZ", xyz_tag(pcs[:, 0])),
        (b"gXYZ", xyz_tag(pcs[:, 1])),
        (b"bXYZ", xyz_tag(pcs[:, 2])),
        (b"rTRC", trc),
        (b"gTRC", trc),
        (b"bTRC", trc),
    ]
    table, data, offset = [], b"", 128 + 4 + 12 * len(tags)
    for signature, body in tags:
        body += b"\0" * (-len(body) % 4)
        table.append(struct.pack(">4sII", signature, offset + len(data), len(body)))
        data += body
    size = offset + len(data)
    header = struct.pack(">I4sI4s4s4s", size, b"lcms", 0x02100000, b"mntr", b"RGB ", b"XYZ ")
    header += b"\0" * 12 + b"acsp" + b"\0" * 24 + struct.pack(">I", 0) + s15(D50) + b"\0" * 48
    return header + struct.pack(">I", len(tags)) + b"".join(table) + data


SRGB_CURVE = Curve(params=(3, (2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045)))
DISPLAY_P3 = dict(primaries=((0.680, 0.320), (0.265, 0.690), (0.150, 0.060)), white=(0.3127, 0.3290), curve=SRGB_CURVE)
ADOBE_RGB = dict(
    primaries=((0.640, 0.330), (0.210, 0.710), (0.150, 0.060)), white=(0.3127, 0.3290), curve=Curve(gamma=563 / 256)
)

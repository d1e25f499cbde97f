"""The LUT renderer: photo as 2D texture(s), LUT as a 3D texture, one full-screen pass per photo tile.

It works in whatever OpenGL 3.3 core context is current when it is created and used: the editor's
QOpenGLWidget context (drawing to the screen) or a :class:`engine.gpu.context.HeadlessContext`
(drawing into an off-screen float framebuffer that is read back). It never imports Qt.

One module because every GL object here (textures, programs, framebuffers) lives and dies with one context.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import IntEnum

import numpy as np
from OpenGL import GL
from OpenGL.raw.GL.VERSION import GL_1_0, GL_1_1

from engine import locations
from engine.errors import InputError
from engine.gpu.context import GLUnavailable
from engine.lut.lut3d import LUT3D
from engine.lut.sampling import DEFAULT_INTERPOLATION, INTERPOLATIONS, check_interpolation

SHAPER_ROW = 1024  # shaper entries per texture row (as the shader's SHAPER_ROW); 65536 entries = 64 rows


class Layout(IntEnum):
    """Where the original ("before") shows; the values are the shader's `u_layout`."""

    AFTER = 0
    SPLIT_VERTICAL = 1  # before left of the split, after right
    SPLIT_HORIZONTAL = 2  # before above the split, after below
    SIDE_BY_SIDE = 3  # the same region twice: before in the left half, after in the right half
    BEFORE = 4


@dataclass(frozen=True)
class View:
    """Photo placement in a pane: `scale` target pixels per photo pixel, photo corner at `offset`."""

    scale: float = 1.0
    offset: tuple[float, float] = (0.0, 0.0)


@dataclass(frozen=True)
class Compare:
    """Before/after presentation: layout, split position (fraction of the target), divider line."""

    layout: Layout = Layout.AFTER
    split: float = 0.5
    divider_width: float = 0.0
    divider_color: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)
    background: tuple[float, float, float, float] = (0.16, 0.16, 0.16, 1.0)


@dataclass
class _Tile:
    texture: int
    x: int
    y: int
    width: int
    height: int


def _ptr(array: np.ndarray) -> ctypes.c_void_p:
    return ctypes.c_void_p(array.ctypes.data)


def gl_version() -> tuple[int, int]:
    """The (major, minor) version of the current context."""
    return int(GL.glGetIntegerv(GL.GL_MAJOR_VERSION)), int(GL.glGetIntegerv(GL.GL_MINOR_VERSION))


def _compile(kind: int, source: str, name: str) -> int:
    shader = GL.glCreateShader(kind)
    GL.glShaderSource(shader, source)
    GL.glCompileShader(shader)
    if not GL.glGetShaderiv(shader, GL.GL_COMPILE_STATUS):
        log = GL.glGetShaderInfoLog(shader).decode(errors="replace")
        GL.glDeleteShader(shader)
        raise GLUnavailable(f"shader {name} does not compile: {log}")
    return shader


def _link(vertex_source: str, fragment_source: str) -> int:
    shaders = [
        _compile(GL.GL_VERTEX_SHADER, vertex_source, "fullscreen.vert"),
        _compile(GL.GL_FRAGMENT_SHADER, fragment_source, "lut_preview.frag"),
    ]
    program = GL.glCreateProgram()
    for shader in shaders:
        GL.glAttachShader(program, shader)
    GL.glLinkProgram(program)
    for shader in shaders:
        GL.glDeleteShader(shader)
    if not GL.glGetProgramiv(program, GL.GL_LINK_STATUS):
        log = GL.glGetProgramInfoLog(program).decode(errors="replace")
        GL.glDeleteProgram(program)
        raise GLUnavailable(f"shader program does not link: {log}")
    return program


def _shader_source(name: str, defines: dict[str, int]) -> str:
    """A shipped shader with `defines`; a missing one makes the GPU path unavailable (callers fall back to the CPU)."""
    lines = ["#version 330 core"] + [f"#define {key} {value}" for key, value in defines.items()]
    try:
        source = locations.shader_path(name).read_text()
    except (OSError, RuntimeError) as exc:
        raise GLUnavailable(f"shader {name} cannot be read: {exc}") from exc
    return "\n".join(lines) + "\n" + source


class LutRenderer:
    """Draws a photo through a LUT with a before/after layout into the current framebuffer.

    Create, use and `release()` it while the same GL context is current. `max_texture_size` caps
    the photo tile size (default: the context's GL_MAX_TEXTURE_SIZE); tests lower it to exercise
    tiling on small photos.
    """

    def __init__(self, max_texture_size: int | None = None) -> None:
        major, minor = gl_version()
        if (major, minor) < (3, 3):
            raise GLUnavailable(f"OpenGL 3.3 core is needed, the context offers {major}.{minor}")
        limit = int(GL.glGetIntegerv(GL.GL_MAX_TEXTURE_SIZE))
        self.max_texture_size = min(limit, max_texture_size or limit)
        self._programs: dict[tuple[int, bool, bool], tuple[int, dict[str, int]]] = {}
        self._program(0)  # compile now, so a broken driver fails here and not mid-frame
        self._vao = GL.glGenVertexArrays(1)
        self._tiles: list[_Tile] = []
        self._image_size = (0, 0)
        self._lut_texture = 0
        self._shaper_texture = 0  # the LUT's 1D shaper, SHAPER_ROW entries per texture row
        self._lut: LUT3D | None = None
        self._before_texture = 0  # a separate "before" photo (the source, when pixel edits changed it)
        self._mipmapped = False
        self._fbo = 0
        self._fbo_color = 0
        self._fbo_size = (0, 0)
        self._version = 0  # bumps on every photo or LUT upload; part of the split cache's key
        self._cache = _GradedCache()
        self.interpolation = DEFAULT_INTERPOLATION
        self.strength = 1.0
        self.clip_warning = False  # preview only: mark clipped highlights red and crushed shadows blue

    # ----------------------------------------------------------------------------------- uploads
    @property
    def image_size(self) -> tuple[int, int]:
        """(width, height) of the uploaded photo; (0, 0) before any."""
        return self._image_size

    @property
    def lut(self) -> LUT3D | None:
        return self._lut

    def set_photo(self, pixels: np.ndarray, mipmaps: bool = True) -> None:
        """Upload an H x W x 3 float photo, in tiles of at most `max_texture_size` a side.

        Mipmaps make zoomed-out previews smooth; exports at 1:1 skip them.
        """
        pixels = _as_rgb_float(pixels)
        height, width = pixels.shape[:2]
        step = self.max_texture_size
        rects = [
            (x, y, min(step, width - x), min(step, height - y))
            for y in range(0, height, step)
            for x in range(0, width, step)
        ]
        reuse = len(rects) == len(self._tiles) and all(
            (t.width, t.height) == r[2:] for t, r in zip(self._tiles, rects, strict=True)
        )
        if not reuse:
            self._delete_tiles()
            self._tiles = [_Tile(int(GL.glGenTextures(1)), *rect) for rect in rects]
        GL.glPixelStorei(GL.GL_UNPACK_ALIGNMENT, 4)
        GL.glPixelStorei(GL.GL_UNPACK_ROW_LENGTH, pixels.strides[0] // 12)
        for tile in self._tiles:
            GL.glBindTexture(GL.GL_TEXTURE_2D, tile.texture)
            GL.glPixelStorei(GL.GL_UNPACK_SKIP_PIXELS, tile.x)
            GL.glPixelStorei(GL.GL_UNPACK_SKIP_ROWS, tile.y)
            if reuse:
                GL_1_1.glTexSubImage2D(
                    GL.GL_TEXTURE_2D, 0, 0, 0, tile.width, tile.height, GL.GL_RGB, GL.GL_FLOAT, _ptr(pixels)
                )
            else:
                GL_1_0.glTexImage2D(
                    GL.GL_TEXTURE_2D, 0, GL.GL_RGB32F, tile.width, tile.height, 0, GL.GL_RGB, GL.GL_FLOAT, _ptr(pixels)
                )
                for wrap in (GL.GL_TEXTURE_WRAP_S, GL.GL_TEXTURE_WRAP_T):
                    GL.glTexParameteri(GL.GL_TEXTURE_2D, wrap, GL.GL_CLAMP_TO_EDGE)
                for name in (GL.GL_TEXTURE_MIN_FILTER, GL.GL_TEXTURE_MAG_FILTER):  # complete without mipmaps
                    GL.glTexParameteri(GL.GL_TEXTURE_2D, name, GL.GL_NEAREST)
            if mipmaps:
                GL.glGenerateMipmap(GL.GL_TEXTURE_2D)
        for name in (GL.GL_UNPACK_ROW_LENGTH, GL.GL_UNPACK_SKIP_PIXELS, GL.GL_UNPACK_SKIP_ROWS):
            GL.glPixelStorei(name, 0)
        self._mipmapped = mipmaps
        self._image_size = (width, height)
        self._version += 1

    def set_before(self, pixels: np.ndarray | None) -> None:
        """Show `pixels` (any size: stretched over the photo) as "before" instead of the photo itself.

        Why: after an upscale, low-light rescue or merge the source differs from the photo being graded;
        before/after must compare with the original. At most `max_texture_size` a side (it is only looked at).
        """
        self._version += 1
        if pixels is None:
            if self._before_texture:
                GL.glDeleteTextures([self._before_texture])
            self._before_texture = 0
            return
        pixels = _as_rgb_float(pixels)
        step = -(-max(pixels.shape[:2]) // self.max_texture_size)
        pixels = np.ascontiguousarray(pixels[::step, ::step])
        if not self._before_texture:
            self._before_texture = int(GL.glGenTextures(1))
        GL.glBindTexture(GL.GL_TEXTURE_2D, self._before_texture)
        GL.glPixelStorei(GL.GL_UNPACK_ALIGNMENT, 4)
        GL_1_0.glTexImage2D(
            GL.GL_TEXTURE_2D, 0, GL.GL_RGB32F, pixels.shape[1], pixels.shape[0], 0, GL.GL_RGB, GL.GL_FLOAT, _ptr(pixels)
        )
        for wrap in (GL.GL_TEXTURE_WRAP_S, GL.GL_TEXTURE_WRAP_T):
            GL.glTexParameteri(GL.GL_TEXTURE_2D, wrap, GL.GL_CLAMP_TO_EDGE)
        GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MIN_FILTER, GL.GL_LINEAR_MIPMAP_LINEAR)
        GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MAG_FILTER, GL.GL_LINEAR)
        GL.glGenerateMipmap(GL.GL_TEXTURE_2D)

    def set_lut(self, lut: LUT3D | None) -> None:
        """Upload a LUT as a 32-bit float 3D texture (clamp to edge, linear); None shows the photo as is.

        The texels are RGBA32F (alpha unused): same precision as RGB32F, but aligned texels make
        llvmpipe's gathers ~10% cheaper.
        """
        self._lut = lut
        self._version += 1
        if lut is None:
            return
        if not self._lut_texture:
            self._lut_texture = int(GL.glGenTextures(1))
        GL.glBindTexture(GL.GL_TEXTURE_3D, self._lut_texture)
        GL.glPixelStorei(GL.GL_UNPACK_ALIGNMENT, 4)
        n = lut.size
        rgba = np.ones((n, n, n, 4), np.float32)
        rgba[..., :3] = lut.table
        GL.glTexImage3D(GL.GL_TEXTURE_3D, 0, GL.GL_RGBA32F, n, n, n, 0, GL.GL_RGBA, GL.GL_FLOAT, rgba)
        for wrap in (GL.GL_TEXTURE_WRAP_S, GL.GL_TEXTURE_WRAP_T, GL.GL_TEXTURE_WRAP_R):
            GL.glTexParameteri(GL.GL_TEXTURE_3D, wrap, GL.GL_CLAMP_TO_EDGE)
        GL.glTexParameteri(GL.GL_TEXTURE_3D, GL.GL_TEXTURE_MIN_FILTER, GL.GL_LINEAR)
        GL.glTexParameteri(GL.GL_TEXTURE_3D, GL.GL_TEXTURE_MAG_FILTER, GL.GL_LINEAR)
        if lut.shaper is not None:
            self._upload_shaper(lut.shaper.table)

    def _upload_shaper(self, table: np.ndarray) -> None:
        """The shaper's (M, 3) entries as an RGB32F texture read with texelFetch, rows of SHAPER_ROW."""
        rows = -(-len(table) // SHAPER_ROW)
        texels = np.zeros((rows * SHAPER_ROW, 3), np.float32)
        texels[: len(table)] = table
        width = SHAPER_ROW if rows > 1 else len(table)
        if not self._shaper_texture:
            self._shaper_texture = int(GL.glGenTextures(1))
        GL.glBindTexture(GL.GL_TEXTURE_2D, self._shaper_texture)
        GL.glPixelStorei(GL.GL_UNPACK_ALIGNMENT, 4)
        GL_1_0.glTexImage2D(
            GL.GL_TEXTURE_2D,
            0,
            GL.GL_RGB32F,
            width,
            rows,
            0,
            GL.GL_RGB,
            GL.GL_FLOAT,
            _ptr(np.ascontiguousarray(texels[: width * rows])),
        )
        for option in (GL.GL_TEXTURE_MIN_FILTER, GL.GL_TEXTURE_MAG_FILTER):
            GL.glTexParameteri(GL.GL_TEXTURE_2D, option, GL.GL_NEAREST)

    # ----------------------------------------------------------------------------------- drawing
    def _program(self, mode: int, export: bool = False, shaper: bool = False) -> tuple[int, dict[str, int]]:
        """The program for an interpolation mode (0 no LUT, 1 trilinear, 2 tetrahedral, 3 graded pixels
        from the split cache), with or without a 1D shaper stage, compiled once."""
        key = (mode, export, shaper)
        if key not in self._programs:
            defines = {"INTERPOLATION": mode, "EXPORT": int(export), "SHAPER": int(shaper)}
            program = _link(_shader_source("fullscreen.vert", {}), _shader_source("lut_preview.frag", defines))
            self._programs[key] = (program, {})
        return self._programs[key]

    def _use_program(self, export: bool, cached: bool = False) -> Callable[[str], int]:
        """Bind the program for the current LUT/interpolation with the LUT uniforms set; returns a
        uniform-location lookup."""
        check_interpolation(self.interpolation)
        lut = self._lut
        mode = 0 if lut is None else 3 if cached else 1 + INTERPOLATIONS.index(self.interpolation)
        shaper = lut.shaper if lut is not None and mode in (1, 2) else None
        program, locations = self._program(mode, export, shaper is not None)

        def u(name: str) -> int:
            if name not in locations:
                locations[name] = GL.glGetUniformLocation(program, name)
            return locations[name]

        GL.glDisable(GL.GL_DEPTH_TEST)
        GL.glDisable(GL.GL_BLEND)
        GL.glDisable(GL.GL_SCISSOR_TEST)
        GL.glUseProgram(program)
        GL.glBindVertexArray(self._vao)
        GL.glUniform1i(u("u_photo"), 0)
        GL.glUniform1i(u("u_lut"), 1)
        GL.glUniform1i(u("u_graded"), 2)
        GL.glUniform1i(u("u_before"), 3)
        GL.glUniform1i(u("u_has_before"), int(bool(self._before_texture)))
        if self._before_texture:
            GL.glActiveTexture(GL.GL_TEXTURE3)
            GL.glBindTexture(GL.GL_TEXTURE_2D, self._before_texture)
        if cached:
            GL.glActiveTexture(GL.GL_TEXTURE2)
            GL.glBindTexture(GL.GL_TEXTURE_2D, self._cache.texture)
        if lut is not None:
            GL.glActiveTexture(GL.GL_TEXTURE1)
            GL.glBindTexture(GL.GL_TEXTURE_3D, self._lut_texture)
            GL.glUniform1i(u("u_lut_size"), lut.size)
            GL.glUniform3f(u("u_domain_min"), *map(float, lut.domain_min))
            GL.glUniform3f(u("u_domain_max"), *map(float, lut.domain_max))
        if shaper is not None:
            GL.glActiveTexture(GL.GL_TEXTURE4)
            GL.glBindTexture(GL.GL_TEXTURE_2D, self._shaper_texture)
            GL.glUniform1i(u("u_shaper"), 4)
            GL.glUniform1i(u("u_shaper_size"), shaper.size)
            GL.glUniform3f(u("u_shaper_min"), *map(float, shaper.domain_min))
            GL.glUniform3f(u("u_shaper_max"), *map(float, shaper.domain_max))
        GL.glUniform1f(u("u_strength"), float(self.strength))
        GL.glUniform1i(u("u_clip_warning"), int(self.clip_warning))
        GL.glActiveTexture(GL.GL_TEXTURE0)
        return u

    def draw(
        self,
        target_size: tuple[int, int],
        view: View,
        compare: Compare = Compare(),
        rows_down: bool = False,
        reuse_graded: bool = False,
    ) -> None:
        """Draw into the bound framebuffer (`target_size` = its (width, height) in pixels).

        `reuse_graded` (split layouts with a LUT): keep the graded frame in a texture and, while only the
        split moves, draw from it instead of looking every pixel up again (a cheap pass on a CPU rasterizer).
        """
        split_layout = compare.layout in (Layout.SPLIT_VERTICAL, Layout.SPLIT_HORIZONTAL)
        if reuse_graded and split_layout and self._lut is not None:
            key = (
                target_size,
                view,
                rows_down,
                compare.layout,
                self._version,
                self.interpolation,
                self.strength,
                self.clip_warning,
            )
            if self._cache.key != key:
                previous = int(GL.glGetIntegerv(GL.GL_DRAW_FRAMEBUFFER_BINDING))
                self._cache.bind(*target_size)
                self._draw(target_size, view, replace(compare, split=0.0, divider_width=0.0), rows_down, False)
                GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, previous)
                self._cache.key = key
            self._draw(target_size, view, compare, rows_down, True)
        else:
            self._draw(target_size, view, compare, rows_down, False)

    def _draw(self, target_size: tuple[int, int], view: View, compare: Compare, rows_down: bool, cached: bool) -> None:
        width, height = target_size
        GL.glViewport(0, 0, width, height)
        u = self._use_program(export=False, cached=cached)
        GL.glUniform2f(u("u_target_size"), float(width), float(height))
        GL.glUniform1i(u("u_rows_down"), int(rows_down))
        GL.glUniform1f(u("u_scale"), float(view.scale))
        GL.glUniform2f(u("u_offset"), float(view.offset[0]), float(view.offset[1]))
        GL.glUniform1i(u("u_layout"), int(compare.layout))
        GL.glUniform1f(u("u_split"), float(compare.split))
        GL.glUniform1f(u("u_divider_width"), float(compare.divider_width))
        GL.glUniform4f(u("u_divider_color"), *compare.divider_color)
        GL.glUniform4f(u("u_background"), *compare.background)
        GL.glUniform2f(u("u_image_size"), float(self._image_size[0]), float(self._image_size[1]))
        # Magnified or 1:1: nearest (exact pixels); zoomed out: trilinear mipmaps (no aliasing).
        minify = GL.GL_LINEAR_MIPMAP_LINEAR if self._mipmapped and view.scale < 1.0 else GL.GL_NEAREST
        if not self._tiles:
            GL.glClearColor(*compare.background)
            GL.glClear(GL.GL_COLOR_BUFFER_BIT)
        for tile in self._tiles:
            GL.glBindTexture(GL.GL_TEXTURE_2D, tile.texture)
            GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MIN_FILTER, minify)
            GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MAG_FILTER, GL.GL_NEAREST)
            GL.glUniform4f(u("u_tile"), float(tile.x), float(tile.y), float(tile.width), float(tile.height))
            GL.glDrawArrays(GL.GL_TRIANGLES, 0, 3)
        GL.glBindVertexArray(0)
        GL.glUseProgram(0)

    def render(
        self,
        target_size: tuple[int, int],
        view: View = View(),
        compare: Compare = Compare(),
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """Draw into an off-screen RGBA32F framebuffer and read it back as H x W x 3 float32, top row first.

        `out` may be a (strided-row) view into a larger float32 array; rows are read straight into it.
        """
        previous = int(GL.glGetIntegerv(GL.GL_DRAW_FRAMEBUFFER_BINDING))
        self.bind_offscreen(*target_size)
        self.draw(target_size, view, compare, rows_down=True)
        out = self._read_back(target_size, out)
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, previous)
        return out

    def render_graded(self, out: np.ndarray | None = None) -> np.ndarray:
        """The export pass: the whole photo through the LUT at 1:1, read back as H x W x 3 float32.

        Skips view and layout arithmetic; the photo must fit in one tile (the exporter tiles bigger ones).
        """
        if len(self._tiles) != 1:
            raise ValueError("render_graded needs a photo uploaded as a single tile")
        size = self._image_size
        previous = int(GL.glGetIntegerv(GL.GL_DRAW_FRAMEBUFFER_BINDING))
        self.bind_offscreen(*size)
        GL.glViewport(0, 0, *size)
        self._use_program(export=True)
        GL.glBindTexture(GL.GL_TEXTURE_2D, self._tiles[0].texture)
        GL.glDrawArrays(GL.GL_TRIANGLES, 0, 3)
        GL.glBindVertexArray(0)
        GL.glUseProgram(0)
        out = self._read_back(size, out)
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, previous)
        return out

    @staticmethod
    def _read_back(size: tuple[int, int], out: np.ndarray | None) -> np.ndarray:
        width, height = size
        if out is None:
            out = np.empty((height, width, 3), np.float32)
        if out.shape != (height, width, 3) or out.dtype != np.float32 or out.strides[1:] != (12, 4):
            raise ValueError("out must be float32 (height, width, 3) with contiguous rows")
        GL.glReadBuffer(GL.GL_COLOR_ATTACHMENT0)
        GL.glPixelStorei(GL.GL_PACK_ALIGNMENT, 4)
        GL.glPixelStorei(GL.GL_PACK_ROW_LENGTH, out.strides[0] // 12)
        GL_1_0.glReadPixels(0, 0, width, height, GL.GL_RGB, GL.GL_FLOAT, _ptr(out))
        GL.glPixelStorei(GL.GL_PACK_ROW_LENGTH, 0)
        return out

    def bind_offscreen(self, width: int, height: int) -> None:
        """Bind (and size) the RGBA32F off-screen framebuffer as the draw target."""
        if not self._fbo:
            self._fbo = int(GL.glGenFramebuffers(1))
            self._fbo_color = int(GL.glGenRenderbuffers(1))
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, self._fbo)
        if self._fbo_size != (width, height):
            GL.glBindRenderbuffer(GL.GL_RENDERBUFFER, self._fbo_color)
            GL.glRenderbufferStorage(GL.GL_RENDERBUFFER, GL.GL_RGBA32F, width, height)
            GL.glFramebufferRenderbuffer(
                GL.GL_FRAMEBUFFER, GL.GL_COLOR_ATTACHMENT0, GL.GL_RENDERBUFFER, self._fbo_color
            )
            status = GL.glCheckFramebufferStatus(GL.GL_FRAMEBUFFER)
            if status != GL.GL_FRAMEBUFFER_COMPLETE:
                raise GLUnavailable(f"float framebuffer {width}x{height} is incomplete (status {status:#x})")
            self._fbo_size = (width, height)

    # ----------------------------------------------------------------------------------- cleanup
    def _delete_tiles(self) -> None:
        if self._tiles:
            GL.glDeleteTextures([t.texture for t in self._tiles])
        self._tiles = []

    def release(self) -> None:
        """Delete every GL object; call with the renderer's context current."""
        self._delete_tiles()
        self.set_before(None)
        if self._lut_texture:
            GL.glDeleteTextures([self._lut_texture])
        if self._shaper_texture:
            GL.glDeleteTextures([self._shaper_texture])
        if self._fbo:
            GL.glDeleteFramebuffers(1, [self._fbo])
            GL.glDeleteRenderbuffers(1, [self._fbo_color])
        GL.glDeleteVertexArrays(1, [self._vao])
        for program, _ in self._programs.values():
            GL.glDeleteProgram(program)
        self._programs = {}
        self._lut_texture = self._shaper_texture = self._fbo = self._fbo_color = 0
        self._cache.release()


class _GradedCache:
    """An RGBA16F texture framebuffer holding the last graded frame (8-bit displays lose nothing)."""

    def __init__(self) -> None:
        self.texture = self.fbo = 0
        self.size = (0, 0)
        self.key: tuple | None = None

    def bind(self, width: int, height: int) -> None:
        if not self.fbo:
            self.fbo = int(GL.glGenFramebuffers(1))
            self.texture = int(GL.glGenTextures(1))
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, self.fbo)
        if self.size != (width, height):
            GL.glBindTexture(GL.GL_TEXTURE_2D, self.texture)
            GL.glTexImage2D(GL.GL_TEXTURE_2D, 0, GL.GL_RGBA16F, width, height, 0, GL.GL_RGBA, GL.GL_HALF_FLOAT, None)
            for name in (GL.GL_TEXTURE_MIN_FILTER, GL.GL_TEXTURE_MAG_FILTER):
                GL.glTexParameteri(GL.GL_TEXTURE_2D, name, GL.GL_NEAREST)
            GL.glFramebufferTexture2D(GL.GL_FRAMEBUFFER, GL.GL_COLOR_ATTACHMENT0, GL.GL_TEXTURE_2D, self.texture, 0)
            if GL.glCheckFramebufferStatus(GL.GL_FRAMEBUFFER) != GL.GL_FRAMEBUFFER_COMPLETE:
                raise GLUnavailable(f"graded-frame cache {width}x{height} is incomplete")
            self.size = (width, height)

    def release(self) -> None:
        if self.fbo:
            GL.glDeleteFramebuffers(1, [self.fbo])
            GL.glDeleteTextures([self.texture])
        self.texture = self.fbo = 0
        self.size = (0, 0)
        self.key = None


def _as_rgb_float(pixels: np.ndarray) -> np.ndarray:
    """float32 H x W x 3 with packed pixels; a crop of a bigger array (row stride) is kept without a copy."""
    if pixels.ndim != 3 or pixels.shape[2] != 3:
        raise InputError(f"expected an H x W x 3 image, got shape {pixels.shape}")
    if pixels.dtype == np.float32 and pixels.strides[1:] == (12, 4) and pixels.strides[0] % 12 == 0:
        return pixels
    return np.ascontiguousarray(pixels, dtype=np.float32)

"""A headless OpenGL 3.3 core context (EGL, Mesa surfaceless or a GPU) for the CLI, tests and exports.

PyOpenGL picks its platform once per process, when ``OpenGL`` is first imported, so
``engine.gpu`` sets ``PYOPENGL_PLATFORM=egl`` before that import (unless the caller chose one).
With glvnd the same GL entry points also draw into a context that Qt made current, so the renderer
works unchanged inside the editor's QOpenGLWidget.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from engine.errors import LutLabError

EGL_PLATFORM_SURFACELESS_MESA = 0x31DD
T = TypeVar("T")


class GLUnavailable(LutLabError):
    """No OpenGL 3.3 core context could be made (no EGL, no driver, or too old a GL)."""


class HeadlessContext:
    """An EGL context with no surface; current on the thread that created it until `close()`.

    Prefer :class:`GLThread`, which keeps the context on a thread of its own.
    """

    def __init__(self) -> None:
        try:
            from OpenGL import EGL, platform
        except Exception as exc:  # ImportError or a platform loader error (no libEGL)
            raise GLUnavailable(f"EGL is not available: {exc}") from exc
        if "EGL" not in type(platform.PLATFORM).__name__:
            raise GLUnavailable(
                "PyOpenGL was imported before engine.gpu chose EGL; import engine.gpu first "
                "or set PYOPENGL_PLATFORM=egl"
            )
        self._egl = EGL
        try:
            self._display = self._open_display()
            self._context = self._create_context()
        except GLUnavailable:
            raise
        except Exception as exc:  # PyOpenGL raises EGLError for every failed EGL call
            raise GLUnavailable(f"EGL failed: {getattr(exc, 'err', exc)}") from exc
        try:
            self.make_current()
        except Exception as exc:
            EGL.eglDestroyContext(self._display, self._context)
            raise GLUnavailable(f"eglMakeCurrent failed: {getattr(exc, 'err', exc)}") from exc

    def _open_display(self):  # noqa: ANN202 - an opaque EGLDisplay
        egl = self._egl
        try:
            display = egl.eglGetPlatformDisplayEXT(EGL_PLATFORM_SURFACELESS_MESA, egl.EGL_DEFAULT_DISPLAY, None)
        except Exception:  # extension missing: fall back to the default display (a GPU driver)
            display = egl.EGL_NO_DISPLAY
        if not display:
            display = egl.eglGetDisplay(egl.EGL_DEFAULT_DISPLAY)
        if not display:
            raise GLUnavailable("no EGL display (neither Mesa surfaceless nor a default display)")
        major, minor = egl.EGLint(), egl.EGLint()
        if not egl.eglInitialize(display, ctypes.pointer(major), ctypes.pointer(minor)):
            raise GLUnavailable("eglInitialize failed")
        return display

    def _create_context(self):  # noqa: ANN202 - an opaque EGLContext
        egl = self._egl
        if not egl.eglBindAPI(egl.EGL_OPENGL_API):
            raise GLUnavailable("EGL cannot bind the desktop OpenGL API")
        config_attribs = (egl.EGLint * 5)(
            egl.EGL_RENDERABLE_TYPE, egl.EGL_OPENGL_BIT, egl.EGL_SURFACE_TYPE, egl.EGL_PBUFFER_BIT, egl.EGL_NONE
        )
        config = egl.EGLConfig()
        count = egl.EGLint()
        if (
            not egl.eglChooseConfig(self._display, config_attribs, ctypes.pointer(config), 1, ctypes.pointer(count))
            or count.value < 1
        ):
            config = egl.EGLConfig()  # surfaceless contexts may use no config at all
        context_attribs = (egl.EGLint * 7)(
            egl.EGL_CONTEXT_MAJOR_VERSION,
            3,
            egl.EGL_CONTEXT_MINOR_VERSION,
            3,
            egl.EGL_CONTEXT_OPENGL_PROFILE_MASK,
            egl.EGL_CONTEXT_OPENGL_CORE_PROFILE_BIT,
            egl.EGL_NONE,
        )
        context = egl.eglCreateContext(self._display, config, egl.EGL_NO_CONTEXT, context_attribs)
        if not context:
            raise GLUnavailable("EGL could not create an OpenGL 3.3 core context")
        return context

    def make_current(self) -> None:
        egl = self._egl
        if not egl.eglMakeCurrent(self._display, egl.EGL_NO_SURFACE, egl.EGL_NO_SURFACE, self._context):
            raise GLUnavailable("eglMakeCurrent failed (surfaceless contexts unsupported?)")

    def close(self) -> None:
        egl = self._egl
        egl.eglMakeCurrent(self._display, egl.EGL_NO_SURFACE, egl.EGL_NO_SURFACE, egl.EGL_NO_CONTEXT)
        # The display stays initialised: EGL hands every caller the same one, and terminating it would
        # break contexts other threads still use.
        egl.eglDestroyContext(self._display, self._context)

    def __enter__(self) -> HeadlessContext:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class GLThread:
    """A private thread that owns a :class:`HeadlessContext`; `run(fn, ...)` executes `fn` there.

    A thread may hold only one window-system binding at a time (glvnd refuses an EGL context on a
    thread where Qt made a GLX context current), so headless work always runs on its own thread,
    whatever thread asks for it. Raises :class:`GLUnavailable` when no context can be made.
    """

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lutlab-gl")
        try:
            self._context = self._executor.submit(HeadlessContext).result()
        except BaseException:
            self._executor.shutdown()
            raise

    def run(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        """Call `fn(*args, **kwargs)` on the GL thread with the context current; return or raise its result."""
        return self._executor.submit(fn, *args, **kwargs).result()

    def close(self) -> None:
        self.run(self._context.close)
        self._executor.shutdown()

    def __enter__(self) -> GLThread:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

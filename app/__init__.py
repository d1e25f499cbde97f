"""The Qt editor. Importing it first guards against a reference-count bug of PySide6 on Python 3.11."""

from app.qt_guard import protect_singletons

protect_singletons()

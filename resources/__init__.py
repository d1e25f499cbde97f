"""LUTLab's shipped data (installed as the package ``lutlab_resources``; see engine/locations.py)."""

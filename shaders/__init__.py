"""LUTLab's GLSL sources (installed as the package ``lutlab_shaders``; see engine/locations.py)."""

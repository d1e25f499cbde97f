"""LUT super-resolution: SR-LUT-S, MuLUT and EC-LUT nets, their transfer into int8 tables, an optional
edge-hashed filter refinement after the table (`filters`), and a pure-numpy tiled upscaler that needs no
torch at run time."""

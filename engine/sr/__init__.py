"""LUT super-resolution: SR-LUT-S (2x2 receptive field) and EC-LUT (expanded convolution) nets,
their transfer into int8 tables, and a pure-numpy tiled upscaler that needs no torch at run time."""

"""Image-adaptive 3D LUT presets (Zeng et al.) with the CLUT-Net compressed variant."""

"""Exposure fusion: merge a bracket of exposures into one photo (Mertens, Kautz, Van Reeth 2007).

`merge.merge_files/merge_photos` is the entry point; `weights` (quality measures), `pyramid` (Laplacian
blending), `align` (median-threshold bitmaps, translation and small rotation), `deghost` (motion masks),
`exposure` (EXIF and measured exposure) and `quality` (MEF-SSIM, for benchmarks) are its parts.
No learned model, so no model/train modules; numpy only (no torch).
"""

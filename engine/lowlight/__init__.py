"""Low-light rescue: brighten a dark, noisy photo in linear light with a per-photo noise model.

The user-facing controls live here, torch-free, so the CLI parser and the editor can show them without
loading anything. `engine.lowlight.pipeline` does the work (numpy + OpenCV); the PairLIE nets
(`engine.lowlight.model`, trained here) remain as an optional denoiser, measured against it.
"""

from engine.locations import shipped_models_dir

SHIPPED_WEIGHTS = shipped_models_dir() / "lowlight.safetensors"  # PairLIE's shipped nets (engine.lowlight.models)
GAMMA_RANGE = (0.05, 1.0)
OUTPUT_GAMMA = 1.0  # default tone: keep the photo's own contrast (chosen on the corpus validation split)
EXPOSURE_RANGE = (0.25, 64.0)  # linear gain; 64 = 6 stops
DENOISE_RANGE = (0.0, 4.0)  # noise-reduction multiplier; 1 = as tuned

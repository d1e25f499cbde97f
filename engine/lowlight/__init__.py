"""Low-light rescue: PairLIE nets trained here on exposure pairs, fast full-resolution inference.

The user-facing controls live here, torch-free, so the CLI parser and the editor can show them without
loading a model.
"""

GAMMA_RANGE = (0.05, 1.0)
OUTPUT_GAMMA = 0.8  # default tone, chosen on training photos (see notes); the paper's 0.2 lifts shadows harder
EXPOSURE_RANGE = (0.25, 32.0)

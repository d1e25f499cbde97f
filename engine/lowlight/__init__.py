"""Low-light rescue: PairLIE nets trained here on exposure pairs, fast full-resolution inference."""

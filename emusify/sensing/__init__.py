"""Camera to mood: frames in, per-frame probabilities and a window tally out."""

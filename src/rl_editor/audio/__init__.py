"""Audio in, arrays and audio out: decoding, beats, per-beat features, splices, rendering."""

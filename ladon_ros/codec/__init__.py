"""Bitstreams and frame codecs (Ladon latents and the image baselines)."""

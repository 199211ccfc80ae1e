"""Emusify: music for the mood on your face."""

__version__ = "0.1.0"

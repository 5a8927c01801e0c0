"""OpenDPG Compute: an open compute commons for public-interest AI."""

__all__ = ["__version__"]

__version__ = "0.1.0"

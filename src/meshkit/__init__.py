"""meshkit: an event-driven data mesh on AWS."""

__version__ = "0.1.0"
__all__ = ["__version__"]

"""Fakes at the hardware boundary, now shipped in :mod:`wattprint.testing`; these modules re-export them."""

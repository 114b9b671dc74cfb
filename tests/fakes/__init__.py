"""Fakes at the hardware boundary: a pynvml-shaped module and a powercap sysfs tree."""

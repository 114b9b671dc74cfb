"""The run layer: one tracked run's lifecycle.

Settings (the one resolver), the ``Tracker``, its file outputs, the exporter runner,
signal/exit/fork hooks and the live grid. Imports the engine and the footprint layer.
"""

"""The SR Desktop engine: image I/O, models, tiled inference, metrics, kernels.

Nothing in this package imports Qt; the GUI and the CLI are both thin layers over it.
"""

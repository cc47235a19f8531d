"""The acceptance matrix: paired memmap/RAM cells over many axes, run as Dask tasks on one or many machines."""

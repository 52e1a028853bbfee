"""Backends: the owners of device buffers and the kernels that update them.

``base.Backend`` lists the hooks; ``cpu`` (NumPy), ``emulated`` (host memory
running the CUDA kernels compiled for the CPU) and ``cuda`` (CuPy) fill them
in. The registry in ``gpuvars.devices`` creates them lazily by name.
"""

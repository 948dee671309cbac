"""GPU settings greenbench changes for a case and puts back: power limits.

- :mod:`greenbench.gpu.backends`: the GPUs a device name means, through NVML or AMD SMI, and
  their power limits (read, allowed range, set);
- :mod:`greenbench.gpu.restore_records`: the record of each limit changed, kept on disk
  until it is put back, so that a killed run's limits can be restored later;
- :mod:`greenbench.gpu.limits`: a case's limit checked, set, read back and restored.
"""

"""greenbench's built-in workloads, registered through the ``greenbench.workloads`` entry point."""

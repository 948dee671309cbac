"""greenbench inside the tools people already run: Prometheus scrapes (more to come)."""

"""One module per CLI command group; ``greenbench.cli`` imports each only when it is invoked."""

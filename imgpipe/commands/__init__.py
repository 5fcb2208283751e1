"""The operator commands: one module each, registered on the `imgpipe` parser by imgpipe.cli."""

"""The ``fti`` command line: parse, call the SDK, render. One module per command group."""

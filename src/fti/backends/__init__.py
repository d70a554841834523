"""Storage backends behind the Protocols of :mod:`fti.backends.ports`."""

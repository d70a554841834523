"""Test support shipped with fti: contract suites every backend must pass, and real service launchers.

Contract suites (STYLE.md B8) are plain pytest classes: subclass one in a test module and provide the
fixture it names. Service launchers start real servers (PostgreSQL, Redis, an S3 API) on loopback.
"""

"""Real servers for the exporter tests, started on 127.0.0.1 free ports and stopped by PID.

Each ``start_*`` skips the test (with the reason) only when the binary is
absent; a server that exits at start or never becomes ready fails the test.
"""

"""The core of gc-tui: vault, CapRover client, audit, deploy.

Nothing in this package may import Textual: the headless commands and scripts use it alone.
"""

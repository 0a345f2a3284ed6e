"""gc-tui: audit and upgrade a fleet of CapRover servers from one KeePass file."""

__version__ = "0.2.0"

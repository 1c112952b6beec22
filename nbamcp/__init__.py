"""nbamcp: an MCP server for NBA statistics and calibrated game predictions."""

__version__ = "0.1.0"

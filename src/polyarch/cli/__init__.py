"""The command-line interface: parses arguments, calls operations, renders results."""

"""Command-line front ends: one module per ``emusify`` sub-command (see emusify.cli)."""

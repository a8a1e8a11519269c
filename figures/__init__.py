"""Everything drawn after training, from the runs a folder holds."""

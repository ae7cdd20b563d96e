"""``harness data label``: cheap labels for the geometries of an existing dataset."""

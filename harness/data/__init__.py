"""Reading, validating, generating and splitting multi-fidelity force-field data."""

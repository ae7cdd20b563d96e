"""Generation of the embedded dataset: xTB Langevin sampling, then labels at several levels."""

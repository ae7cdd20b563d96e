"""Reference harness for data-cost-aware training of machine-learning force fields."""

__version__ = "0.1.0"

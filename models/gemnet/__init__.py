"""GemNet-T (Gasteiger, Becker and Guennemann 2021): bases, triplets, blocks, scale factors.

Importing the package registers the model as ``"gemnet_t"``.
"""

from models.gemnet.model import GemNetT

__all__ = ["GemNetT"]

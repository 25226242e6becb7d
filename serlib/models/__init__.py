"""Models, one module per method family. Model modules import torch and nothing from
``serlib.experiments``."""

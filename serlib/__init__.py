"""serlib: the library behind serbook, a study book on generative and adversarial methods
for speech emotion recognition."""

__version__ = "0.1.0"

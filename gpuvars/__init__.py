"""gpuvars: TensorFlow 1.x's variable model as a fast eager library."""

__version__ = "0.1.0"

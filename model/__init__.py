"""The classifier: data readers, network, training, evaluation, checkpoint."""

from model.checkpoint import CheckpointError, Classifier, load_classifier
from model.data import CLASSES, DataError, Recording

__all__ = ["CLASSES", "CheckpointError", "Classifier", "DataError", "Recording", "load_classifier"]

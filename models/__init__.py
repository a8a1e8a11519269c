"""The report's networks: one parametrized class per family."""
from models.mlp import SigmoidMLP
from models.resnet import resnet18_finetune
from models.simple_cnn import SimpleCNN

__all__ = ["SigmoidMLP", "SimpleCNN", "resnet18_finetune"]

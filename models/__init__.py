"""The report's networks: one parametrized class per family."""
from models.mlp import SigmoidMLP
from models.resnet import resnet18_finetune
from models.simple_cnn import SimpleCNN
from models.vgg import vgg11_bn_head

__all__ = ["SigmoidMLP", "SimpleCNN", "resnet18_finetune", "vgg11_bn_head"]

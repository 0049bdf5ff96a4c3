"""Models: an MLP, the paper's CIFAR net, a small BatchNorm CNN, the CL papers' reduced ResNet-18 and a small
ViT, plus the task-masked (multi-head) wrapper."""
from laftr_cl.models.bn_cnn import BnCnn
from laftr_cl.models.cifar_net import CifarNet
from laftr_cl.models.heads import MASKED_LOGIT, TaskMaskedClassifier
from laftr_cl.models.mlp import MLP
from laftr_cl.models.resnet import ResNet18
from laftr_cl.models.vit import ViT

__all__ = ["MLP", "CifarNet", "BnCnn", "ResNet18", "ViT", "TaskMaskedClassifier", "MASKED_LOGIT"]

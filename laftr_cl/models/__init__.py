"""Models: an MLP, the paper's CIFAR net, a small BatchNorm CNN and the CL papers' reduced ResNet-18,
plus the task-masked (multi-head) wrapper."""
from laftr_cl.models.bn_cnn import BnCnn
from laftr_cl.models.cifar_net import CifarNet
from laftr_cl.models.heads import MASKED_LOGIT, TaskMaskedClassifier
from laftr_cl.models.mlp import MLP
from laftr_cl.models.resnet import ResNet18

__all__ = ["MLP", "CifarNet", "BnCnn", "ResNet18", "TaskMaskedClassifier", "MASKED_LOGIT"]

"""Models: an MLP and the paper's CIFAR net, plus the task-masked (multi-head) wrapper."""
from laftr_cl.models.cifar_net import CifarNet
from laftr_cl.models.heads import MASKED_LOGIT, TaskMaskedClassifier
from laftr_cl.models.mlp import MLP

__all__ = ["MLP", "CifarNet", "TaskMaskedClassifier", "MASKED_LOGIT"]

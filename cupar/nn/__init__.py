"""`cupar.nn`: a neural-network library written in cupar's own language.

Its core is `cupar.nn.functional` (`import cupar.nn.functional as F`): each layer,
activation and loss a `@parallel` function over plain arrays, with torch's names; gradients
come from `cupar.grad`. Over it, modules and optimizers with torch's names, and training
where one step (forward, loss, gradients, update) is one compiled call:

    from cupar import nn
    from cupar.nn import optim

    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    history = nn.fit(model, (x, y), loss=nn.CrossEntropyLoss(), optimizer=opt,
                     epochs=30, batch_size=32, validation=(x_val, y_val), seed=0)
    nn.save(model, "digits.npz")
"""

from . import functional, init, optim  # noqa: F401
from .compiled import TrainStep  # noqa: F401
from .conv_api import (AvgPool2d, BatchNorm1d, BatchNorm2d, Conv1d, Conv2d,  # noqa: F401
                       MaxPool2d)
from .criteria import (BCEWithLogitsLoss, CrossEntropyLoss, Loss, MSELoss,  # noqa: F401
                       NLLLoss)
from .init import manual_seed  # noqa: F401
from .layers_api import (GELU, Dropout, Elementwise, Embedding, Flatten,  # noqa: F401
                         LayerNorm, LeakyReLU, Linear, LogSoftmax, ReLU, Sigmoid, Softmax,
                         Tanh)
from .module import Module, Sequential  # noqa: F401
from .parallel import DataParallel  # noqa: F401
from .recurrent_api import GRU, LSTM, RNN  # noqa: F401
from .training import History, evaluate, fit, load, predict, save  # noqa: F401

__all__ = ["functional", "init", "optim", "manual_seed", "Module", "Sequential", "TrainStep",
           "Linear", "ReLU", "LeakyReLU", "GELU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax",
           "Dropout", "LayerNorm", "Embedding", "Flatten", "Elementwise", "Conv1d", "Conv2d",
           "MaxPool2d", "AvgPool2d", "BatchNorm1d", "BatchNorm2d", "RNN", "GRU", "LSTM",
           "Loss", "CrossEntropyLoss", "NLLLoss", "MSELoss", "BCEWithLogitsLoss",
           "DataParallel", "fit", "evaluate", "predict", "save", "load", "History"]

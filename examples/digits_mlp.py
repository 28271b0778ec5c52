"""cupar.nn end to end: a 64-128-10 MLP on scikit-learn's digits, trained with SGD and
momentum, each step (forward, loss, gradients, update) one compiled call.

    python examples/digits_mlp.py --plot digits_mlp.png
"""

import sys
import time

from nn_common import arguments, digits, place, report

from cupar import nn
from cupar.nn import optim


def main(argv=None):
    args = arguments(__doc__.splitlines()[0], epochs=30, batch_size=32, lr=0.05).parse_args(argv)
    x_train, x_test, y_train, y_test = digits(seed=args.seed)
    nn.manual_seed(args.seed)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    model.to(place(args.place))
    optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    started = time.perf_counter()
    history = nn.fit(model, (x_train, y_train), loss=nn.CrossEntropyLoss(), optimizer=optimizer,
                     epochs=args.epochs, batch_size=args.batch_size,
                     validation=(x_test, y_test), seed=args.seed,
                     progress=False if args.no_progress else None)
    scores = nn.evaluate(model, (x_test, y_test))
    report("digits MLP", history, scores, started, args.plot)
    return scores


if __name__ == "__main__":
    sys.exit(0 if main()["accuracy"] >= 0.975 else 1)

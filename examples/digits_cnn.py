"""A small CNN on scikit-learn's digits (8x8 images): conv 16 -> conv 32 -> max pool ->
fc 64 -> 10, trained with SGD and momentum, one compiled call per step.

    python examples/digits_cnn.py --plot digits_cnn.png
"""

import sys
import time

from nn_common import arguments, digits, place, report

from cupar import nn
from cupar.nn import optim


def main(argv=None):
    args = arguments(__doc__.splitlines()[0], epochs=15, batch_size=32, lr=0.05).parse_args(argv)
    x_train, x_test, y_train, y_test = digits(images=True, seed=args.seed)
    nn.manual_seed(args.seed)
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 4 * 4, 64), nn.ReLU(), nn.Linear(64, 10))
    model.to(place(args.place))
    optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    started = time.perf_counter()
    history = nn.fit(model, (x_train, y_train), loss=nn.CrossEntropyLoss(), optimizer=optimizer,
                     epochs=args.epochs, batch_size=args.batch_size,
                     validation=(x_test, y_test), seed=args.seed,
                     progress=False if args.no_progress else None)
    scores = nn.evaluate(model, (x_test, y_test), batch_size=256)
    report("digits CNN", history, scores, started, args.plot)
    return scores


if __name__ == "__main__":
    sys.exit(0 if main()["accuracy"] >= 0.97 else 1)

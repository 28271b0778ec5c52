"""A GRU classifier on mnist1d (sequences of 40 numbers, 10 classes), generated offline:
GRU(1, 64) over the whole sequence (its input projections one matrix product, the
recurrence a loop), its last hidden state -> Linear(64, 10), trained with Adam.

    python examples/mnist1d_gru.py --plot mnist1d_gru.png
"""

import sys
import time

from nn_common import arguments, mnist1d, place, report

from cupar import nn
from cupar.nn import optim

CELLS = {"gru": nn.GRU, "lstm": nn.LSTM, "rnn": nn.RNN}


def main(argv=None, cell="gru"):
    parser = arguments(__doc__.splitlines()[0], epochs=75, batch_size=100, lr=3e-3)
    parser.add_argument("--hidden", type=int, default=64)
    args = parser.parse_args(argv)
    x_train, x_test, y_train, y_test = mnist1d()
    nn.manual_seed(args.seed)
    model = nn.Sequential(CELLS[cell](1, args.hidden), nn.Linear(args.hidden, 10))
    model.to(place(args.place))
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    started = time.perf_counter()
    history = nn.fit(model, (x_train, y_train), loss=nn.CrossEntropyLoss(), optimizer=optimizer,
                     epochs=args.epochs, batch_size=args.batch_size,
                     validation=(x_test, y_test), seed=args.seed, clip_norm=1.0,
                     progress=False if args.no_progress else None)
    scores = nn.evaluate(model, (x_test, y_test), batch_size=500)
    report(f"mnist1d {cell.upper()}", history, scores, started, args.plot)
    return scores


if __name__ == "__main__":
    sys.exit(0 if main()["accuracy"] >= 0.90 else 1)

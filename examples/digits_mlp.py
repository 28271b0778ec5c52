"""cupar.nn end to end: a 64-128-10 MLP on scikit-learn's digits, trained with SGD and
momentum, each step (forward, loss, gradients, update) one compiled call.

    python examples/digits_mlp.py --plot digits_mlp.png
    mpiexec -n 2 python examples/digits_mlp.py --dist     # data-parallel over 2 processes

With --dist, every process trains on its shard of each batch of --batch-size rows (the global
batch stays the same, so the result matches one process to rounding), the gradients are
averaged with one allreduce per step, and only rank 0 reports, plots and saves.
"""

import sys
import time

from nn_common import arguments, digits, place, report

from cupar import nn
from cupar.nn import optim


def main(argv=None):
    parser = arguments(__doc__.splitlines()[0], epochs=30, batch_size=32, lr=0.05)
    parser.add_argument("--dist", action="store_true", help="data-parallel over MPI ranks")
    parser.add_argument("--save", default=None, help="checkpoint (.npz) after training")
    args = parser.parse_args(argv)
    x_train, x_test, y_train, y_test = digits(seed=args.seed)
    nn.manual_seed(args.seed)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    model.to(place(args.place))
    batch_size, rank = args.batch_size, 0
    if args.dist:
        import cupar.dist as dist
        model, rank = nn.DataParallel(model), dist.rank()
        batch_size = max(1, args.batch_size // dist.size())  # rows per rank and step
    optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    started = time.perf_counter()
    history = nn.fit(model, (x_train, y_train), loss=nn.CrossEntropyLoss(), optimizer=optimizer,
                     epochs=args.epochs, batch_size=batch_size,
                     validation=(x_test, y_test), seed=args.seed,
                     progress=False if args.no_progress else None)
    scores = nn.evaluate(model, (x_test, y_test))
    if rank == 0:
        report("digits MLP" + (f" on {dist.size()} ranks" if args.dist else ""), history,
               scores, started, args.plot)
    if args.save:
        nn.save(model, args.save)
    return scores


if __name__ == "__main__":
    sys.exit(0 if main()["accuracy"] >= 0.975 else 1)

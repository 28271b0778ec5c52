"""An LSTM classifier on mnist1d (sequences of 40 numbers, 10 classes), generated offline:
LSTM(1, 64) over the whole sequence, its last hidden state -> Linear(64, 10), Adam.

    python examples/mnist1d_lstm.py --plot mnist1d_lstm.png
"""

import sys

from mnist1d_gru import main as train


def main(argv=None):
    return train(argv, cell="lstm")


if __name__ == "__main__":
    sys.exit(0 if main()["accuracy"] >= 0.90 else 1)

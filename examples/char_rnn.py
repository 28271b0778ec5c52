"""A character-level language model on text it generates itself: an Embedding, a GRU over a
window of 24 characters and a Linear layer predict the next character; then the model
writes a few lines. The text comes from a small grammar of sentences (no download), so what
is learnable is known: spelling, spaces and punctuation after words, and agreement.

    python examples/char_rnn.py --plot char_rnn.png
"""

import sys
import time

import numpy as np
from nn_common import arguments, place, report

import cupar
from cupar import nn
from cupar.nn import optim

SUBJECTS = ["the cat", "a dog", "my friend", "the old man", "her sister", "the bird"]
VERBS = ["sees", "likes", "follows", "paints", "finds", "calls"]
OBJECTS = ["the river", "a red house", "the moon", "some bread", "the garden", "a small boat"]
ENDINGS = [".", " today.", " again.", " at night.", "!"]
WINDOW = 24


def text(sentences: int, rng) -> str:
    pick = lambda words: words[rng.integers(len(words))]  # noqa: E731
    return " ".join(f"{pick(SUBJECTS)} {pick(VERBS)} {pick(OBJECTS)}{pick(ENDINGS)}"
                    for _ in range(sentences))


def windows(codes: np.ndarray):
    """Every WINDOW-long run of character codes and the character after it."""
    starts = np.arange(len(codes) - WINDOW)
    return codes[starts[:, None] + np.arange(WINDOW)], codes[starts + WINDOW]


def sample(model, alphabet: str, prompt: str, length: int, rng) -> str:
    """Continue `prompt`, drawing each character from the model's softmax."""
    index = {c: k for k, c in enumerate(alphabet)}
    out = list(prompt)
    for _ in range(length):
        window = np.array([[index[c] for c in out[-WINDOW:]]], np.int64)
        logits = np.asarray(cupar.places.to_host(model(window)))[0].astype(np.float64)
        p = np.exp(logits - logits.max())
        out.append(alphabet[rng.choice(len(alphabet), p=p / p.sum())])
    return "".join(out)


def main(argv=None):
    parser = arguments(__doc__.splitlines()[0], epochs=8, batch_size=64, lr=5e-3)
    parser.add_argument("--hidden", type=int, default=64)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    corpus = text(1500, rng)
    alphabet = "".join(sorted(set(corpus)))
    codes = np.array([alphabet.index(c) for c in corpus], np.int64)
    split = int(0.9 * len(codes))
    x_train, y_train = windows(codes[:split])
    x_test, y_test = windows(codes[split:])
    nn.manual_seed(args.seed)
    model = nn.Sequential(nn.Embedding(len(alphabet), 16), nn.GRU(16, args.hidden),
                          nn.Linear(args.hidden, len(alphabet)))
    model.to(place(args.place))
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    started = time.perf_counter()
    history = nn.fit(model, (x_train, y_train), loss=nn.CrossEntropyLoss(), optimizer=optimizer,
                     epochs=args.epochs, batch_size=args.batch_size,
                     validation=(x_test, y_test), seed=args.seed, clip_norm=1.0,
                     progress=False if args.no_progress else None)
    scores = nn.evaluate(model, (x_test, y_test), batch_size=1000)
    report("char GRU", history, scores, started, args.plot)
    frequent = np.bincount(y_train).max() / len(y_train)
    print(f"(always guessing the most frequent character: {frequent:.3f})")
    print(sample(model, alphabet, corpus[:WINDOW], 120, rng))
    return scores, frequent


if __name__ == "__main__":
    scores, frequent = main()
    sys.exit(0 if scores["accuracy"] > 2 * frequent else 1)

"""Images as rows of pixels (cupar/nn/conv.py): `conv2d_rows`, `max_pool2d_rows`,
`avg_pool2d_rows`, `nchw_rows`, `rows_nchw`, `rows_flatten` against the NCHW functions (and
torch where installed), their gradients against finite differences, at places.here and at
the compiled place; the modules that keep a Sequential's images as rows (the generated source
says so; outputs and a training step as torch's); and the lowerings they lean on (a split of
joined rows stored a row at a time, a lambda's row of scalar code left delayed). Sizes are
small: the interpreter and the CUDA simulator run them too."""


import numpy as np
import pytest

import cupar
import cupar.nn.functional as F
from cupar import *  # noqa: F403
from cupar import nn
from cupar.errors import CuparValueError
from cupar.nn import optim
from gradcheck import check_gradient
from strategies import COMPILED, assert_close

here = cupar.places.here
PLACES = [here, COMPILED]
RNG = np.random.default_rng(23)


def normal(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


def rows(images):
    """NCHW -> rows of pixels, in NumPy."""
    return np.ascontiguousarray(images.transpose(0, 2, 3, 1).reshape(-1, images.shape[1]))


def host(a):
    return np.asarray(cupar.places.to_host(a))


@pytest.mark.parametrize("place", PLACES, ids=lambda p: p.name)
def test_layout_conversions_are_exact(place):
    x = normal(2, 3, 4, 5)
    assert np.array_equal(host(F.nchw_rows(x, target_place=place)), rows(x))
    assert np.array_equal(host(F.rows_nchw(rows(x), 4, 5, target_place=place)), x)
    assert np.array_equal(host(F.rows_flatten(rows(x), 4, 5, target_place=place)),
                          x.reshape(2, -1))  # torch's Flatten order, channel first


# (stride, padding) and the kernel's (out, in, kh, kw), on 2 images of 3 channels, 7 x 6
CONVS = [(1, 1, (4, 3, 3, 3)), (2, 1, (2, 3, 3, 3)), (2, 0, (3, 3, 2, 3)), (1, 0, (2, 3, 1, 1))]


@pytest.mark.parametrize("place", PLACES, ids=lambda p: p.name)
@pytest.mark.parametrize("stride, padding, wshape", CONVS)
def test_conv2d_rows_is_conv2d_in_rows(stride, padding, wshape, place):
    x, w, b = normal(2, 3, 7, 6), normal(*wshape), normal(wshape[0])
    expected = rows(host(F.conv2d(x, w, b, stride, padding, target_place=here)))
    actual = host(F.conv2d_rows(rows(x), w, b, 7, 6, stride, padding, target_place=place))
    assert actual.dtype == np.float32
    np.testing.assert_allclose(actual, expected, rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("place", PLACES, ids=lambda p: p.name)
@pytest.mark.parametrize("kernel, stride", [(2, 2), (3, 1), (2, 3)])
def test_pools_in_rows_are_the_nchw_pools(kernel, stride, place):
    x = normal(2, 3, 7, 6)
    for rows_fn, nchw_fn in [(F.max_pool2d_rows, F.max_pool2d),
                             (F.avg_pool2d_rows, F.avg_pool2d)]:
        expected = rows(host(nchw_fn(x, kernel, stride, target_place=here)))
        actual = host(rows_fn(rows(x), 7, 6, kernel, stride, target_place=place))
        np.testing.assert_allclose(actual, expected, rtol=2e-6, atol=2e-6)


def test_rows_functions_match_torch():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    x, w, b = normal(2, 3, 7, 6), normal(4, 3, 3, 3), normal(4)
    y = tf.conv2d(torch.tensor(x), torch.tensor(w), torch.tensor(b), 2, 1)
    np.testing.assert_allclose(host(F.conv2d_rows(rows(x), w, b, 7, 6, 2, 1,
                                                  target_place=COMPILED)),
                               rows(y.numpy()), rtol=2e-5, atol=2e-5)
    pooled = tf.max_pool2d(torch.tensor(x), 2, 2).numpy()
    assert np.array_equal(host(F.max_pool2d_rows(rows(x), 7, 6, 2, 2,
                                                 target_place=COMPILED)), rows(pooled))


@parallel
def rows_loss(x, w, b, c, d):
    """conv (stride 1, padding 1), then max pool 2 and avg pool 3 / 1, weighed; the max
    pool's result also flattened and weighed: every rows function's gradient."""
    y = F.conv2d_rows(x, w, b, 4, 5, 1, 1)
    m = F.max_pool2d_rows(y, 4, 5, 2, 2)
    a = F.avg_pool2d_rows(y, 4, 5, 3, 1)
    flat = F.rows_flatten(m, 2, 2)
    return sum(map(lambda r, s: sum(map(op_mul, r, s)), flat, c)) + \
        sum(map(lambda r, s: sum(map(lambda v, t: v * v * t, r, s)), a, d))


@parallel
def strided_loss(x, w, b, c):
    y = F.conv2d_rows(x, w, b, 4, 5, 2, 0)
    return sum(map(lambda r, s: sum(map(op_mul, r, s)), y, c))


@pytest.mark.parametrize("place", PLACES, ids=lambda p: p.name)
def test_rows_gradients_match_finite_differences(place):
    # distinct pixel values keep max pool windows away from ties
    x = (RNG.permutation(2 * 4 * 5 * 2) * 0.05 - 1.0).reshape(2 * 4 * 5, 2)
    w, b = normal(3, 2, 3, 3, dtype=np.float64), normal(3, dtype=np.float64)
    c, d = normal(2, 12, dtype=np.float64), normal(2 * 2 * 3, 3, dtype=np.float64)
    check_gradient(rows_loss, (x, w, b, c, d), (0, 1, 2), place=place,
                   rng=np.random.default_rng(3))
    w2 = normal(3, 2, 2, 3, dtype=np.float64)
    check_gradient(strided_loss, (x, w2, b, normal(2 * 2 * 2, 3, dtype=np.float64)),
                   (0, 1, 2), place=place, rng=np.random.default_rng(4))


# -- modules ----------------------------------------------------------------------------------

def small_cnn():
    nn.manual_seed(1)
    return nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(4),
                         nn.MaxPool2d(2), nn.Conv2d(4, 3, 2, stride=2), nn.Tanh(),
                         nn.AvgPool2d(1), nn.Flatten(), nn.Linear(3 * 2 * 2, 5))


def torch_twin(model):
    torch = pytest.importorskip("torch")
    tn = torch.nn
    twin = tn.Sequential(tn.Conv2d(2, 4, 3, padding=1), tn.ReLU(), tn.BatchNorm2d(4),
                         tn.MaxPool2d(2), tn.Conv2d(4, 3, 2, stride=2), tn.Tanh(),
                         tn.AvgPool2d(1), tn.Flatten(), tn.Linear(12, 5))
    state = {k: torch.tensor(v.T.copy() if k == "8.weight" else v)
             for k, v in model.state_dict().items()}
    twin.load_state_dict(state, strict=False)
    return torch, twin


def test_a_sequential_keeps_images_as_rows_between_its_layers():
    from cupar.nn.codegen import forward_source
    source, _ = forward_source(small_cnn(), True, 4, (2, 6, 5))
    assert source.count("F.nchw_rows") == 1 and "F.rows_nchw" not in source
    assert "F.conv2d_rows_sized(" in source and "F.max_pool2d_rows(" in source
    assert "F.avg_pool2d_rows(" in source and "F.rows_flatten(" in source
    assert "F.conv2d(" not in source and "F.batch_norm2d" not in source
    # without the input's sizes (or for a layer that is not rows-aware) it stays NCHW
    source, _ = forward_source(small_cnn(), True, 4)
    assert "rows" not in source and "F.conv2d(" in source
    # an image returned by the model is NCHW again
    source, _ = forward_source(nn.Sequential(nn.Conv2d(2, 3, 3), nn.ReLU()), False, 4,
                               (2, 5, 5))
    assert "F.nchw_rows" in source and "F.rows_nchw" in source


@pytest.mark.parametrize("place", PLACES, ids=lambda p: p.name)
def test_image_models_give_torchs_outputs(place):
    model = small_cnn().to(place)
    torch, twin = torch_twin(model)
    x = normal(3, 2, 8, 10)
    for mode in (True, False):
        model.train(mode)
        twin.train(mode)
        expected = twin(torch.tensor(x)).detach().numpy()
        np.testing.assert_allclose(host(model(x)), expected, rtol=1e-4, atol=1e-5)
    # a model returning images returns them NCHW
    conv = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU()).to(place)
    out = host(conv(x))
    reference = F.conv2d(x, conv[0].weight, conv[0].bias, 1, 1, target_place=here)
    np.testing.assert_allclose(out, np.maximum(host(reference), 0), rtol=2e-5, atol=2e-5)


def test_a_training_step_of_an_image_model_is_torchs():
    model = small_cnn().to(here)  # the meaning; the compiled step runs the same program
    torch, twin = torch_twin(model)
    x, y = normal(3, 2, 8, 10), np.array([0, 4, 2])
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    step = nn.TrainStep(model, nn.CrossEntropyLoss(), opt)
    loss = step(x, y)
    topt = torch.optim.SGD(twin.parameters(), lr=0.1, momentum=0.9)
    tloss = torch.nn.functional.cross_entropy(twin(torch.tensor(x)), torch.tensor(y))
    tloss.backward()
    topt.step()
    assert abs(loss - tloss.item()) < 1e-5
    for name, value in twin.state_dict().items():
        if name.endswith("num_batches_tracked"):
            continue
        mine = host(model.state_dict()[name])
        mine = mine.T if name == "8.weight" else mine
        np.testing.assert_allclose(mine, value.numpy(), rtol=1e-4, atol=1e-5, err_msg=name)


# -- the lowerings beneath ---------------------------------------------------------------------

@parallel
def regrouped(x, idx, k):
    """Rows of x picked by idx, masked where idx < 0, then regrouped k values a row."""
    picked = gather(x, map(lambda i: maximum(i, 0), idx))
    masked = map(lambda row, i: map(lambda v: v if i >= 0 else 0.0 * v, row), picked, idx)
    return split(join(masked), k)


@pytest.mark.parametrize("k", [6, 4, 12])  # whole rows of x, and not (the division path)
def test_a_split_of_joined_rows_is_stored_right_either_way(k):
    x = normal(5, 3)
    idx = np.array([4, -1, 0, 2, 2, -1, 1, 3])
    expected = regrouped(x, idx, k, target_place=here)
    np.testing.assert_array_equal(host(regrouped(x, idx, k, target_place=COMPILED)), expected)
    assert np.array_equal(expected[:2].reshape(-1)[:6], np.r_[x[4], 0 * x[0]])


def test_patches_are_copied_a_row_at_a_time_without_a_row_per_element():
    """The numba source of `regrouped`: no array allocated inside the store loop (a masked
    row stayed delayed), and a copy loop a source row at a time beside the per-element one."""
    x, idx = normal(5, 3), np.array([4, -1, 0, 2, 2, -1, 1, 3])
    code = cupar.explain(regrouped, x, idx, 6, quiet=True)["numba"]
    body = code[code.index("def regrouped"):]
    assert body.count("np.empty") - body.count("cupar_err = np.empty") == 1  # the result
    assert "first_" in body and "% " in body


@parallel
def regrouped_product(x, w, k):
    """The rows of a stored matrix (a product's) regrouped k values a row, as an im2col's
    patches are before their product."""
    rows = matmul(x, w)
    return matmul(split(join(rows), k), transpose(split(join(w), k)))


@pytest.mark.parametrize("k", [2, 3, 6])
def test_a_split_of_a_stored_matrix_is_that_matrix_reshaped_not_copied(k):
    x, w = normal(4, 5), normal(5, 6)
    expected = regrouped_product(x, w, k, target_place=here)
    assert_close(host(regrouped_product(x, w, k, target_place=COMPILED)), expected, terms=8,
                 scale=float(np.abs(expected).max()))
    code = cupar.explain(regrouped_product, x, w, k, quiet=True)["numba"]
    assert code.count("cupar_reshaped(") == 2, code  # both splits, neither copied
    with pytest.raises(CuparValueError, match="cannot cut a sequence of length 30"):
        regrouped_product(x, w, 4, target_place=COMPILED)


@parallel
def steps_product(states, w):
    """The recorded states of a recurrence (steps, batch, n), stored, as one matrix times w:
    one product over all steps."""
    kept = iterate(lambda s: map(lambda row: map(lambda v: v * 0.5, row), s), states[0],
                   len(states))
    return matmul(transpose(join(kept)), matmul(join(kept), w))


@pytest.mark.parametrize("steps", [1, 3])
def test_the_joined_rows_of_a_stored_three_axis_array_are_its_view(steps):
    states, w = normal(steps, 4, 5).astype(np.float32), normal(5, 3).astype(np.float32)
    expected = steps_product(states, w, target_place=here)
    assert_close(host(steps_product(states, w, target_place=COMPILED)), expected,
                 terms=4 * steps * 5, scale=float(np.abs(expected).max()))
    code = cupar.explain(steps_product, states, w, quiet=True)["numba"]
    assert code.count("cupar_reshaped(") == 2, code  # each join a view, neither copied


def test_padded_pools_give_torchs_outputs():
    """A padded pool takes its windows over NCHW images: the rows before it become
    images, and the layers after it start rows again."""
    torch = pytest.importorskip("torch")
    tn = torch.nn
    nn.manual_seed(2)
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.MaxPool2d(3, 2, padding=1),
                          nn.Conv2d(3, 2, 1), nn.AvgPool2d(2, 1, padding=1), nn.Flatten())
    twin = tn.Sequential(tn.Conv2d(2, 3, 3, padding=1), tn.MaxPool2d(3, 2, padding=1),
                         tn.Conv2d(3, 2, 1), tn.AvgPool2d(2, 1, padding=1), tn.Flatten())
    twin.load_state_dict({k: torch.tensor(v) for k, v in model.state_dict().items()})
    x = normal(2, 2, 7, 6) - 3.0  # negative numbers: the max pool's padding must not win
    model.eval()
    with torch.no_grad():
        expected = twin(torch.tensor(x)).numpy()
    np.testing.assert_allclose(host(model(x)), expected, rtol=2e-5, atol=2e-5)
    assert "padding=1" in repr(model)
    with pytest.raises(CuparValueError, match="half the kernel"):
        nn.MaxPool2d(2, padding=2)

"""nnkern.keras: the study notes' model summary (shapes and counts), 'same' padding, channels-last
data with NCHW inside, fit/evaluate/predict, backends, gradients, and bad input."""
import numpy as np
import pytest
from conftest import assert_close
from nnkern import reference as R
from nnkern.keras import layers, models


def seed_model(**kw):
    """Example 4.1 of the study notes, verbatim apart from the import."""
    model = models.Sequential(**kw)
    model.add(layers.Conv2D(32, (3, 3), activation='relu', input_shape=(150, 150, 3)))
    model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Conv2D(64, (3, 3), activation='relu'))
    model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Conv2D(128, (3, 3), activation='relu'))
    model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Conv2D(128, (3, 3), activation='relu'))
    model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Flatten())
    model.add(layers.Dense(512, activation='relu'))
    model.add(layers.Dense(1, activation='sigmoid'))
    return model


# The study notes' table (Output Shape, Param #), row by row.
SEED_TABLE = [("Conv2D", "(None, 148, 148, 32)", 896), ("MaxPooling2D", "(None, 74, 74, 32)", 0),
              ("Conv2D", "(None, 72, 72, 64)", 18496), ("MaxPooling2D", "(None, 36, 36, 64)", 0),
              ("Conv2D", "(None, 34, 34, 128)", 73856), ("MaxPooling2D", "(None, 17, 17, 128)", 0),
              ("Conv2D", "(None, 15, 15, 128)", 147584), ("MaxPooling2D", "(None, 7, 7, 128)", 0),
              ("Flatten", "(None, 6272)", 0), ("Dense", "(None, 512)", 3211776), ("Dense", "(None, 1)", 513)]


def test_seed_model_summary():
    model = seed_model()
    lines = []
    counts = model.summary(print_fn=lines.append)
    assert counts == (3_453_121, 3_453_121, 0)
    assert counts.total == 3_453_121 and counts.trainable == 3_453_121 and counts.non_trainable == 0
    text = "\n".join(lines)
    assert lines[0] == f'Model: "{model.name}"'
    assert "Layer (type)" in lines[2] and "Output Shape" in lines[2] and "Param #" in lines[2]
    for needle in ("Total params: 3,453,121", "Trainable params: 3,453,121", "Non-trainable params: 0"):
        assert needle in lines
    rows = [ln for ln in lines if ln.startswith(" ") and "(None" in ln]
    assert len(rows) == len(SEED_TABLE)
    for row, (_, shape, count) in zip(rows, SEED_TABLE):
        assert shape in row and row.split()[-1] == str(count), row
    assert all(len(ln) <= 65 for ln in lines)
    assert "(Conv2D)" in text and "(Flatten)" in text and "(Dense)" in text
    assert [type(lay).__name__ for lay in model.layers] == [t for t, _, _ in SEED_TABLE]
    assert model.output_shape == (None, 1)


def test_summary_counts_batch_norm_as_non_trainable():
    model = models.Sequential()
    model.add(layers.Conv2D(8, 3, padding="same", input_shape=(9, 9, 2)))
    model.add(layers.BatchNormalization())
    model.add(layers.Activation("relu"))
    model.add(layers.AveragePooling2D())
    model.add(layers.Flatten())
    model.add(layers.Dropout(0.5))
    model.add(layers.Dense(3, activation="softmax"))
    counts = model.summary(print_fn=lambda s: None)
    assert counts.non_trainable == 16 and counts.trainable == 8 * 2 * 9 + 8 + 16 + 4 * 4 * 8 * 3 + 3
    assert [s for s in model._shapes] == [(8, 9, 9), (8, 9, 9), (8, 9, 9), (8, 4, 4), (128,), (128,), (3,)]


@pytest.mark.parametrize("size,k,s,want", [(9, 3, 1, 9), (10, 4, 1, 10), (9, 3, 2, 5), (10, 3, 2, 5), (8, 2, 2, 4)])
def test_same_padding_output_size(rng, size, k, s, want):
    """Keras/TF 'same': out = ceil(size / stride), odd total padding goes bottom/right."""
    model = models.Sequential(dtype=np.float64)
    model.add(layers.Conv2D(2, k, strides=s, padding="same", input_shape=(size, size + 1, 1)))
    assert model.output_shape[1] == want and model.output_shape[2] == -(-(size + 1) // s)
    x = rng.standard_normal((2, size, size + 1, 1))
    y = model.predict(x)
    # against an explicit TF-style padding + valid convolution on the reference
    tot_h = max((want - 1) * s + k - size, 0)
    tot_w = max((-(-(size + 1) // s) - 1) * s + k - (size + 1), 0)
    xp = np.pad(x.transpose(0, 3, 1, 2), [(0, 0), (0, 0), (tot_h // 2, tot_h - tot_h // 2),
                                          (tot_w // 2, tot_w - tot_w // 2)])
    W, b = model.params[f"{model.layers[0].name}/kernel"], model.params[f"{model.layers[0].name}/bias"]
    want_y = R.conv2d(xp, W, b, stride=s).transpose(0, 2, 3, 1)
    assert_close(y, want_y, 1e-10, 1e-12, "same-padded conv")


def test_channels_last_io_matches_a_manual_nchw_computation(rng):
    """Data enter channels-last; inside, conv -> pool -> flatten (C, H, W order) -> dense."""
    model = models.Sequential(dtype=np.float64, seed=3)
    model.add(layers.Conv2D(4, 3, activation="relu", input_shape=(8, 7, 3)))
    model.add(layers.MaxPooling2D())
    model.add(layers.Flatten())
    model.add(layers.Dense(5, activation="tanh"))
    x = rng.standard_normal((3, 8, 7, 3))
    c, d = model.layers[0].name, model.layers[3].name
    kernel, bias = model.params[f"{c}/kernel"], model.params[f"{c}/bias"]
    h = R.relu(R.conv2d(x.transpose(0, 3, 1, 2), kernel, bias))
    h = R.max_pool2d(h, 2)
    want = np.tanh(h.reshape(3, -1) @ model.params[f"{d}/kernel"] + model.params[f"{d}/bias"])
    assert_close(model.predict(x), want, 1e-10, 1e-12, "predict")
    model.backend = "reference"
    assert_close(model.predict(x), want, 1e-10, 1e-12, "predict on the reference backend")


def _directional_check(model, x, y, rng):
    """<grad, D> vs central differences of the compiled loss, per weight tensor (float64)."""
    xb, yb = model._to_internal(x), model._targets(y, len(x))
    model._loss_and_grad(xb, yb)
    grads = {k: v.copy() for k, v in model._grads().items()}
    assert set(grads) == set(model.params)
    for k, p in model.params.items():
        d = rng.standard_normal(p.shape)
        orig = p.copy()
        vals = []
        for e in (1e-6, -1e-6):
            p[...] = orig + e * d
            vals.append(model._loss_and_grad(xb, yb, need_grad=False)[0])
        p[...] = orig
        got, want = (vals[0] - vals[1]) / 2e-6, float(np.sum(grads[k] * d))
        assert abs(got - want) <= 1e-6 + 1e-5 * abs(want), (k, got, want)


@pytest.mark.parametrize("backend", ["native", "reference"])
@pytest.mark.parametrize("loss,act,classes", [("binary_crossentropy", "sigmoid", 1),
                                              ("sparse_categorical_crossentropy", "softmax", 3),
                                              ("categorical_crossentropy", "softmax", 3),
                                              ("mse", None, 2),
                                              ("binary_crossentropy", "softmax", 2),  # unfused path
                                              ("categorical_crossentropy", "sigmoid", 3)])  # unfused
def test_gradients_match_finite_differences(backend, loss, act, classes):
    rng = np.random.default_rng(17)  # fixed: differences are wrong across ReLU/max-pool switches
    model = models.Sequential(dtype=np.float64, backend=backend, seed=1)
    model.add(layers.Conv2D(3, 3, padding="same", activation="tanh", input_shape=(6, 5, 2)))
    model.add(layers.BatchNormalization())
    model.add(layers.MaxPooling2D())
    model.add(layers.Flatten())
    model.add(layers.Dense(4, activation="relu"))
    model.add(layers.Dense(classes, activation=act))
    model.compile("sgd", loss)
    x = rng.standard_normal((5, 6, 5, 2))
    if loss == "sparse_categorical_crossentropy":
        y = rng.integers(0, classes, 5)
    elif loss == "categorical_crossentropy" and act == "softmax":
        y = np.eye(classes)[rng.integers(0, classes, 5)]
    elif loss == "binary_crossentropy" and act == "softmax":
        y = np.eye(classes)[rng.integers(0, classes, 5)]
    elif loss == "categorical_crossentropy":
        y = rng.dirichlet(np.ones(classes), 5)
    else:
        y = rng.standard_normal((5, classes))
    _directional_check(model, x, y, rng)


def _bars(rng, n, size=8):
    """Channels-last images with a vertical (label 1) or horizontal (label 0) bright bar."""
    x = rng.standard_normal((n, size, size, 1)).astype(np.float32) * 0.3
    y = rng.integers(0, 2, n)
    pos = rng.integers(1, size - 1, n)
    for i in range(n):
        if y[i]:
            x[i, :, pos[i], 0] += 1.5
        else:
            x[i, pos[i], :, 0] += 1.5
    return x, y


def test_fit_learns_bars_with_sigmoid_bce():
    """The study notes' recipe (conv/pool, dense relu, dense sigmoid, binary cross-entropy) on a
    tiny task: >= 95% validation accuracy after 4 epochs."""
    rng = np.random.default_rng(12345)  # fixed task and batches: a learning test must not depend on luck
    x, y = _bars(rng, 600)
    model = models.Sequential(seed=0)
    model.add(layers.Conv2D(8, (3, 3), activation="relu", input_shape=(8, 8, 1)))
    model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Flatten())
    model.add(layers.Dense(16, activation="relu"))
    model.add(layers.Dense(1, activation="sigmoid"))
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    hist = model.fit(x[:500], y[:500], epochs=4, batch_size=20, validation_data=(x[500:], y[500:]), verbose=0)
    assert set(hist.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert hist.epoch == [0, 1, 2, 3] and len(hist.history["loss"]) == 4
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    loss, acc = model.evaluate(x[500:], y[500:])
    assert acc >= 0.95 and hist.history["val_accuracy"][-1] == pytest.approx(acc)
    p = model.predict(x[500:505])
    assert p.shape == (5, 1) and p.dtype == np.float32 and ((0 < p) & (p < 1)).all()


def test_fit_shows_a_tqdm_bar(rng, capsys):
    x, y = _bars(rng, 40)
    model = models.Sequential()
    model.add(layers.Flatten(input_shape=(8, 8, 1)))
    model.add(layers.Dense(2, activation="softmax"))
    model.compile("sgd", "sparse_categorical_crossentropy", ["accuracy"])
    model.fit(x, y, epochs=2, batch_size=10, verbose=1)
    err = capsys.readouterr().err
    assert "Epoch 1/2" in err and "Epoch 2/2" in err and "40/40" in err and "loss=" in err


def test_backends_agree_on_fit(rng):
    x, y = _bars(rng, 60)
    preds = []
    for backend in ("native", "reference"):
        model = models.Sequential(dtype=np.float64, backend=backend, seed=5)
        model.add(layers.Conv2D(4, 3, activation="relu", input_shape=(8, 8, 1)))
        model.add(layers.AveragePooling2D())
        model.add(layers.Flatten())
        model.add(layers.Dense(1, activation="sigmoid"))
        model.compile("sgd", "binary_crossentropy")
        model.fit(x, y, epochs=1, batch_size=20, verbose=0, shuffle=False)
        preds.append(model.predict(x))
    assert_close(preds[0], preds[1], 1e-9, 1e-12, "native vs reference after one epoch")


def test_bad_input():
    with pytest.raises(ValueError, match="first layer needs input_shape"):
        models.Sequential().add(layers.Dense(3))
    model = seed_model()
    with pytest.raises(ValueError, match=r"expects input \(N, 150, 150, 3\), got \(1, 3, 150, 150\)"):
        model.predict(np.zeros((1, 3, 150, 150), np.float32))
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(np.zeros((1, 150, 150, 3)), np.zeros(1))
    with pytest.raises(ValueError, match="unknown loss"):
        model.compile("adam", "hinge")
    with pytest.raises(ValueError, match="padding must be 'valid' or 'same'"):
        layers.Conv2D(3, 3, padding="full")
    with pytest.raises(ValueError, match="unknown activation"):
        layers.Dense(3, activation="swish")
    m = models.Sequential()
    m.add(layers.Conv2D(2, 3, input_shape=(5, 5, 1)))
    with pytest.raises(ValueError, match="add Flatten"):
        m.add(layers.Dense(3))
    with pytest.raises(ValueError, match="too small"):
        m.add(layers.Conv2D(2, 5))


@pytest.mark.parametrize("backend", ["native", "reference"])
def test_gradients_with_asymmetric_same_padding(backend):
    """Odd total 'same' padding (3x3 stride 2 on 6, 2x2 stride 1 on 3): TF pads the extra
    row/column at the bottom/right."""
    rng = np.random.default_rng(23)  # fixed: differences are wrong across ReLU/max-pool switches
    model = models.Sequential(dtype=np.float64, backend=backend, seed=2)
    model.add(layers.Conv2D(3, 3, strides=2, padding="same", activation="tanh", input_shape=(6, 6, 2)))
    model.add(layers.Conv2D(2, 2, padding="same"))
    model.add(layers.Flatten())
    model.add(layers.Dense(2, activation="softmax"))
    assert model._shapes[:2] == [(3, 3, 3), (2, 3, 3)]
    assert model.layers[0].extra == (1, 1) and model.layers[1].extra == (1, 1)
    model.compile("sgd", "sparse_categorical_crossentropy")
    _directional_check(model, rng.standard_normal((3, 6, 6, 2)), rng.integers(0, 2, 3), rng)

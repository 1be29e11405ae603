"""Exercise tests of 06_sequence_prediction_pytorch: each graded function passes on the solution, fails on
the release stub and on typical wrong answers (with a message that teaches), and
passes on correct answers written differently (tests/harness.py)."""

import pytest

from tests.harness import exercise_notebook

pytestmark = pytest.mark.slow

STEM = "06_sequence_prediction_pytorch"


@pytest.fixture(scope="module")
def nb():
    return exercise_notebook(STEM)


# -- shift_for_next_token -------------------------------------------------------

SHIFT_NOT_SHIFTED = '''
def shift_for_next_token(tokens):
    tokens = np.asarray(tokens)
    return tokens[:, :-1], tokens[:, :-1]
'''
SHIFT_WRONG_WAY = '''
def shift_for_next_token(tokens):
    tokens = np.asarray(tokens)
    return tokens[:, 1:], tokens[:, :-1]
'''
SHIFT_ROLL = '''
def shift_for_next_token(tokens):
    tokens = np.asarray(tokens)
    return tokens, np.roll(tokens, -1, axis=1)
'''
SHIFT_BATCH_AXIS = '''
def shift_for_next_token(tokens):
    tokens = np.asarray(tokens)
    return tokens[:-1], tokens[1:]
'''
SHIFT_TWO_STEPS = '''
def shift_for_next_token(tokens):
    tokens = np.asarray(tokens)
    return tokens[:, :-2], tokens[:, 2:]
'''
SHIFT_LOOP_LISTS = '''
def shift_for_next_token(tokens):
    inputs, targets = [], []
    for row in tokens:
        row = [int(v) for v in row]
        inputs.append(row[:-1])
        targets.append(row[1:])
    return inputs, targets
'''
SHIFT_DELETE = '''
def shift_for_next_token(tokens):
    last = np.shape(tokens)[1] - 1
    return np.delete(tokens, last, axis=1), np.delete(tokens, 0, axis=1)
'''


def test_shift_solution_and_stub(nb):
    nb.assert_passes("shift_for_next_token")
    nb.assert_fails("shift_for_next_token", nb.release_stub("shift_for_next_token"))


@pytest.mark.parametrize("source, fragment", [
    (SHIFT_NOT_SHIFTED, "not shifted"),
    (SHIFT_WRONG_WAY, "swapped"),
    (SHIFT_ROLL, "np.roll"),
    (SHIFT_BATCH_AXIS, "batch axis"),
    (SHIFT_TWO_STEPS, "exactly one step"),
], ids=["not-shifted", "wrong-way", "roll", "batch-axis", "two-steps"])
def test_shift_wrong_answers_teach(nb, source, fragment):
    nb.assert_fails("shift_for_next_token", source, message_contains=[fragment])


@pytest.mark.parametrize("source", [SHIFT_LOOP_LISTS, SHIFT_DELETE], ids=["loop-lists", "np-delete"])
def test_shift_other_correct_answers(nb, source):
    nb.assert_passes("shift_for_next_token", source)


# -- predict_next ---------------------------------------------------------------

PREDICT_RESET = '''
def predict_next(model, prefix):
    with torch.no_grad():
        for token in prefix:
            logits, hidden = model([[token]], None, return_state=True)
    return int(logits[0, -1].argmax())
'''
PREDICT_FIRST_OUTPUT = '''
def predict_next(model, prefix):
    with torch.no_grad():
        logits = model([list(prefix)])
    return int(logits[0, 0].argmax())
'''
PREDICT_SKIPS_LAST = '''
def predict_next(model, prefix):
    hidden = None
    with torch.no_grad():
        for token in prefix[:-1]:
            logits, hidden = model([[token]], hidden, return_state=True)
    return int(logits[0, -1].argmax())
'''
PREDICT_RETURNS_LOGITS = '''
def predict_next(model, prefix):
    hidden = None
    with torch.no_grad():
        for token in prefix:
            logits, hidden = model([[token]], hidden, return_state=True)
    return logits[0, -1]
'''
PREDICT_WHOLE_PREFIX = '''
def predict_next(model, prefix):
    logits = predict(model, np.array([prefix]))
    return logits[0, -1].argmax()
'''
PREDICT_BY_HAND = '''
def predict_next(model, prefix):
    device = next(model.parameters()).device
    hidden = None
    with torch.no_grad():
        for token in prefix:
            x = model.embedding(torch.tensor([[token]], device=device))
            out, hidden = model.rnn(x, hidden)
        scores = model.head(out[:, -1])
    return scores.argmax(dim=-1).item()
'''


def test_predict_next_solution_and_stub(nb):
    nb.assert_passes("predict_next")
    nb.assert_fails("predict_next", nb.release_stub("predict_next"))


@pytest.mark.parametrize("source, fragment", [
    (PREDICT_RESET, "reset at every step"),
    (PREDICT_FIRST_OUTPUT, "FIRST token"),
    (PREDICT_SKIPS_LAST, "never fed"),
    (PREDICT_RETURNS_LOGITS, "returned the logits"),
], ids=["hidden-reset", "first-output", "skips-last-token", "returns-logits"])
def test_predict_next_wrong_answers_teach(nb, source, fragment):
    nb.assert_fails("predict_next", source, message_contains=[fragment])


@pytest.mark.parametrize("source", [PREDICT_WHOLE_PREFIX, PREDICT_BY_HAND], ids=["whole-prefix", "layers-by-hand"])
def test_predict_next_other_correct_answers(nb, source):
    nb.assert_passes("predict_next", source)


# -- evaluate_per_step -----------------------------------------------------------

EVAL_NO_MASK = '''
def evaluate_per_step(model, inputs, targets, mask):
    logits = predict(model, inputs)
    return {
        "loss": metrics.cross_entropy(targets, logits, reduction="per_step"),
        "accuracy": metrics.per_step_scores(targets, logits.argmax(-1), metric="accuracy"),
        "perplexity": metrics.perplexity(targets, logits),
    }
'''
EVAL_SUM_OVER_BATCH = '''
def evaluate_per_step(model, inputs, targets, mask):
    logits = predict(model, inputs)
    return {
        "loss": metrics.cross_entropy(targets, logits, mask=mask, reduction="none").sum(axis=0),
        "accuracy": metrics.per_step_scores(targets, logits.argmax(-1), metric="accuracy", mask=mask),
        "perplexity": metrics.perplexity(targets, logits, mask=mask),
    }
'''
EVAL_PPL_SUMMED_OVER_TIME = '''
def evaluate_per_step(model, inputs, targets, mask):
    logits = predict(model, inputs)
    loss = metrics.cross_entropy(targets, logits, mask=mask, reduction="per_step")
    return {
        "loss": loss,
        "accuracy": metrics.per_step_scores(targets, logits.argmax(-1), metric="accuracy", mask=mask),
        "perplexity": float(np.exp(np.nansum(loss))),
    }
'''
EVAL_PPL_STEP_MEAN = '''
def evaluate_per_step(model, inputs, targets, mask):
    logits = predict(model, inputs)
    loss = metrics.cross_entropy(targets, logits, mask=mask, reduction="per_step")
    return {
        "loss": loss,
        "accuracy": metrics.per_step_scores(targets, logits.argmax(-1), metric="accuracy", mask=mask),
        "perplexity": float(np.exp(np.nanmean(loss))),
    }
'''
EVAL_ACC_PADDED = '''
def evaluate_per_step(model, inputs, targets, mask):
    logits = predict(model, inputs)
    return {
        "loss": metrics.cross_entropy(targets, logits, mask=mask, reduction="per_step"),
        "accuracy": (logits.argmax(-1) == targets).mean(axis=0),
        "perplexity": metrics.perplexity(targets, logits, mask=mask),
    }
'''
EVAL_SCALAR_LOSS = '''
def evaluate_per_step(model, inputs, targets, mask):
    logits = predict(model, inputs)
    return {
        "loss": metrics.cross_entropy(targets, logits, mask=mask),
        "accuracy": metrics.per_step_scores(targets, logits.argmax(-1), metric="accuracy", mask=mask),
        "perplexity": metrics.perplexity(targets, logits, mask=mask),
    }
'''
EVAL_NAIVE_SOFTMAX = '''
def evaluate_per_step(model, inputs, targets, mask):
    logits = predict(model, inputs).astype(np.float32)
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    picked = np.take_along_axis(probs, np.asarray(targets)[..., None], -1)[..., 0]
    nll = -np.log(picked)
    m = np.asarray(mask)
    with np.errstate(all="ignore"):
        loss = np.where(m, nll, 0).sum(0) / m.sum(0)
        acc = np.where(m, logits.argmax(-1) == targets, 0).sum(0) / m.sum(0)
    return {"loss": loss, "accuracy": acc, "perplexity": float(np.exp(np.where(m, nll, 0).sum() / m.sum()))}
'''
EVAL_NUMPY_LOOP = '''
def evaluate_per_step(model, inputs, targets, mask):
    logits = np.asarray(predict(model, inputs), dtype=np.float64)
    targets, mask = np.asarray(targets), np.asarray(mask)
    losses, accuracies, total, count = [], [], 0.0, 0
    for t in range(targets.shape[1]):
        rows = np.flatnonzero(mask[:, t])
        if rows.size == 0:
            losses.append(float("nan"))
            accuracies.append(float("nan"))
            continue
        z = logits[rows, t]
        z = z - z.max(axis=1, keepdims=True)
        log_probs = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        nll = -log_probs[np.arange(rows.size), targets[rows, t]]
        losses.append(nll.mean())
        accuracies.append(np.mean(z.argmax(axis=1) == targets[rows, t]))
        total, count = total + nll.sum(), count + rows.size
    return {"loss": losses, "accuracy": accuracies, "perplexity": np.exp(total / count)}
'''
EVAL_FRAMEWORK = '''
def evaluate_per_step(model, inputs, targets, mask):
    import torch.nn.functional as F
    with torch.no_grad():
        logits = model(torch.as_tensor(inputs)).double().cpu()
    y = torch.as_tensor(targets).long()
    m = torch.as_tensor(mask).double()
    nll = F.cross_entropy(logits.transpose(1, 2), y, reduction="none") * m
    hits = (logits.argmax(-1) == y).double() * m
    return {
        "loss": (nll.sum(0) / m.sum(0)).numpy(),
        "accuracy": hits.sum(0) / m.sum(0),
        "perplexity": torch.exp(nll.sum() / m.sum()),
    }
'''


def test_evaluate_per_step_solution_and_stub(nb):
    nb.assert_passes("evaluate_per_step")
    nb.assert_fails("evaluate_per_step", nb.release_stub("evaluate_per_step"))


@pytest.mark.parametrize("source, fragment", [
    (EVAL_NO_MASK, "padded steps were counted"),
    (EVAL_SUM_OVER_BATCH, "summed over the sentences"),
    (EVAL_PPL_SUMMED_OVER_TIME, "summed over time"),
    (EVAL_PPL_STEP_MEAN, "every step weighs the same"),
    (EVAL_ACC_PADDED, "a pad is not a token"),
    (EVAL_SCALAR_LOSS, "one loss per time step"),
    (EVAL_NAIVE_SOFTMAX, "subtract"),
], ids=["no-mask", "sum-over-batch", "ppl-summed-over-time", "ppl-step-mean", "accuracy-padded", "scalar-loss",
        "naive-softmax-overflows"])
def test_evaluate_per_step_wrong_answers_teach(nb, source, fragment):
    nb.assert_fails("evaluate_per_step", source, message_contains=[fragment])


@pytest.mark.parametrize("source", [EVAL_NUMPY_LOOP, EVAL_FRAMEWORK], ids=["numpy-loop", "framework-ops"])
def test_evaluate_per_step_other_correct_answers(nb, source):
    nb.assert_passes("evaluate_per_step", source)

"""Type fidelity: does a sprite show the types it was meant to show?

A trained `TypeClassifier` ranks the 18 types of each image by probability.
A request (the true types of a real sprite, or the types a generated sprite
was conditioned on) is scored against that ranking:

* single-type request `t`: correct when the top-1 type is `t`;
* dual-type request `{a, b}`, scored two ways:
  - any-hit: the top-1 type is `a` or `b` (the classifier recognised at
    least one of the two types, whichever it ranks first);
  - both: the top-2 types are exactly `{a, b}`, in either order.

`accuracy` combines both kinds of request with the lenient rule (single:
top-1; dual: any-hit) and `exact_accuracy` with the strict one (single:
top-1; dual: both). The per-type breakdown is a recall: for each type `t`,
the share of requests containing `t` whose top-k types contain `t`, where
`k` is the number of requested types (1 or 2).
"""

import numpy as np

from pokediff.metrics.type_classifier import _check_images
from pokediff.metrics.type_classifier import _check_labels
from pokediff.metrics.type_classifier import predict_types
from pokediff.pokemon_types import NO_TYPE
from pokediff.pokemon_types import NUM_TYPES
from pokediff.pokemon_types import TYPES


def _mean_or_none(values):
    return float(np.mean(values)) if len(values) else None


def score_type_predictions(probabilities, labels):
    """Score type probabilities against requested or true types.

    See the module docstring for the definitions.

    Args:
        probabilities: float array of shape `(N, 18)` of type scores (from
            `predict_types`); only their ranking matters.
        labels: int array of shape `(N, 2)`, `-1` for no second type.

    Returns:
        A dict with:
        - `"count"`: int, the number of images;
        - `"accuracy"`: float, single top-1 or dual any-hit, over all;
        - `"exact_accuracy"`: float, single top-1 or dual both, over all;
        - `"single_type"`: `{"count", "accuracy"}` over single-type
          requests;
        - `"dual_type"`: `{"count", "any_hit", "both"}` over dual-type
          requests;
        - `"per_type"`: `{type name: {"count", "accuracy"}}` for each type
          requested at least once, in `TYPES` order.
        Rates over no request are `None`.

    Example:

    >>> probabilities = np.zeros((3, 18))
    >>> probabilities[:, 1] = 0.9  # fire first
    >>> probabilities[:, 9] = 0.5  # flying second
    >>> labels = [[1, -1], [1, 9], [2, 9]]
    >>> result = score_type_predictions(probabilities, labels)
    >>> result["accuracy"], result["dual_type"]["both"]
    (0.6666666666666666, 0.5)
    """
    probabilities = np.asarray(probabilities, dtype="float64")
    if probabilities.ndim != 2 or probabilities.shape[1] != NUM_TYPES:
        raise ValueError(
            f"`probabilities` expected shape (N, {NUM_TYPES}). "
            f"Received: probabilities.shape={probabilities.shape}"
        )
    if probabilities.shape[0] == 0:
        raise ValueError(
            "`probabilities` expected at least one row. "
            f"Received: probabilities.shape={probabilities.shape}"
        )
    labels = _check_labels(
        labels, len(probabilities), images_name="probabilities"
    )
    # A pair that repeats one type is a single-type request.
    labels = labels.copy()
    labels[labels[:, 1] == labels[:, 0], 1] = NO_TYPE

    # Stable sort: ties keep the lower type id first.
    ranking = np.argsort(-probabilities, axis=1, kind="stable")
    top1, top2 = ranking[:, 0], ranking[:, 1]
    first, second = labels[:, 0], labels[:, 1]
    dual = second != NO_TYPE

    single_hit = top1 == first
    any_hit = (top1 == first) | (top1 == second)
    both = ((top1 == first) & (top2 == second)) | (
        (top1 == second) & (top2 == first)
    )
    lenient = np.where(dual, any_hit, single_hit)
    strict = np.where(dual, both, single_hit)

    per_type = {}
    for type_index, name in enumerate(TYPES):
        requested = (first == type_index) | (second == type_index)
        if not requested.any():
            continue
        found = (top1 == type_index) | (dual & (top2 == type_index))
        per_type[name] = {
            "count": int(requested.sum()),
            "accuracy": float(found[requested].mean()),
        }

    return {
        "count": int(len(labels)),
        "accuracy": float(lenient.mean()),
        "exact_accuracy": float(strict.mean()),
        "single_type": {
            "count": int((~dual).sum()),
            "accuracy": _mean_or_none(single_hit[~dual]),
        },
        "dual_type": {
            "count": int(dual.sum()),
            "any_hit": _mean_or_none(any_hit[dual]),
            "both": _mean_or_none(both[dual]),
        },
        "per_type": per_type,
    }


def type_fidelity(classifier, images, labels, batch_size=256):
    """Type accuracy of images against their true or requested types.

    Use it on held-out real sprites with their true types (how good the
    classifier is: the ceiling for generated sprites) and on generated
    sprites with the types they were conditioned on.

    Args:
        classifier: a trained `TypeClassifier`.
        images: uint8 array of shape `(N, H, W, 3)`.
        labels: int array of shape `(N, 2)`, `-1` for no second type.
        batch_size: int. Defaults to `256`.

    Returns:
        The dict of `score_type_predictions`.

    Example:

    >>> from pokediff.metrics import TypeClassifier
    >>> model = TypeClassifier(filters=(8,), embedding_dim=8, seed=0)
    >>> images = np.zeros((2, 8, 8, 3), dtype="uint8")
    >>> type_fidelity(model, images, [[1, -1], [2, 9]])["count"]
    2
    """
    images = _check_images(images)
    labels = _check_labels(labels, len(images))
    probabilities = predict_types(classifier, images, batch_size=batch_size)
    return score_type_predictions(probabilities, labels)

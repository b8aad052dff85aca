"""Evaluation of generated sprites: type fidelity, distances, memorisation.

The one-call entry point is `evaluate_samples`, with `format_report_table`
to print its result and `nearest_neighbour_grid` to look at the closest
training sprites. The pieces are public too:

* `TypeClassifier`, `train_type_classifier`, `extract_features`,
  `predict_types`: the type classifier whose predictions score type
  fidelity and whose `features` embedding is the offline feature space;
* `type_fidelity`, `score_type_predictions`: type accuracy;
* `frechet_distance`, `kernel_distance`: distances between feature sets;
* `memorization_scores`, `nearest_neighbours`, `typical_train_distance`:
  nearest training sprites;
* `InceptionFeatures`, `inception_scores`: the standard FID/KID feature
  space (needs InceptionV3 ImageNet weights).

See `docs/evaluation.md` for the definitions.
"""

from pokediff.metrics.distances import feature_statistics
from pokediff.metrics.distances import frechet_distance
from pokediff.metrics.distances import frechet_distance_from_statistics
from pokediff.metrics.distances import kernel_distance
from pokediff.metrics.inception import InceptionFeatures
from pokediff.metrics.memorization import DEFAULT_NEAR_COPY_THRESHOLD
from pokediff.metrics.memorization import memorization_scores
from pokediff.metrics.memorization import nearest_neighbours
from pokediff.metrics.memorization import typical_train_distance
from pokediff.metrics.report import evaluate_samples
from pokediff.metrics.report import format_report_table
from pokediff.metrics.report import inception_scores
from pokediff.metrics.report import nearest_neighbour_grid
from pokediff.metrics.type_classifier import TypeClassifier
from pokediff.metrics.type_classifier import extract_features
from pokediff.metrics.type_classifier import multi_hot
from pokediff.metrics.type_classifier import predict_types
from pokediff.metrics.type_classifier import train_type_classifier
from pokediff.metrics.type_fidelity import score_type_predictions
from pokediff.metrics.type_fidelity import type_fidelity

__all__ = [
    "DEFAULT_NEAR_COPY_THRESHOLD",
    "InceptionFeatures",
    "TypeClassifier",
    "evaluate_samples",
    "extract_features",
    "feature_statistics",
    "format_report_table",
    "frechet_distance",
    "frechet_distance_from_statistics",
    "inception_scores",
    "kernel_distance",
    "memorization_scores",
    "multi_hot",
    "nearest_neighbour_grid",
    "nearest_neighbours",
    "predict_types",
    "score_type_predictions",
    "train_type_classifier",
    "type_fidelity",
    "typical_train_distance",
]

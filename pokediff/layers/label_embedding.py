import keras
from keras import ops


@keras.saving.register_keras_serializable(package="pokediff")
class LabelEmbedding(keras.layers.Layer):
    """Embeds a Pokémon's one or two types, with a learned "no label" entry.

    Labels are integer type ids of shape `(batch, 2)`, with `-1` for "no
    second type" (a single `(batch,)` vector of ids is accepted too). The
    embeddings of the present types are averaged, so `(fire, flying)` and
    `(flying, fire)` embed identically. A row with no type at all
    (`[-1, -1]`) takes a learned "no label" embedding: training with some
    labels dropped to `[-1, -1]` gives the unconditional model that
    classifier-free guidance needs. The result goes through
    `Dense -> SiLU -> Dense`.

    Args:
        num_classes: int. Number of types. Defaults to `18`.
        embedding_dim: int. Output size.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        labels: Integer tensor of shape `(batch, 2)` or `(batch,)`.

    Returns:
        Tensor of shape `(batch, embedding_dim)`.

    Example:

    >>> layer = LabelEmbedding(num_classes=18, embedding_dim=8)
    >>> tuple(layer(keras.ops.array([[1, 9], [2, -1], [-1, -1]])).shape)
    (3, 8)
    """

    def __init__(self, embedding_dim, num_classes=18, **kwargs):
        super().__init__(**kwargs)
        if num_classes < 1:
            raise ValueError(
                "`num_classes` expected a positive integer. "
                f"Received: num_classes={num_classes}"
            )
        self.num_classes = num_classes
        self.embedding_dim = embedding_dim

        # Row `num_classes` of the table is the "no label" entry.
        # Unit-variance entries (as in `torch.nn.Embedding`) make the types
        # as loud as the timestep from the first step; Keras' default
        # uniform(-0.05, 0.05) leaves the network ignoring them for long.
        self.table = keras.layers.Embedding(
            num_classes + 1,
            embedding_dim,
            embeddings_initializer=keras.initializers.RandomNormal(stddev=1.0),
            dtype=self.dtype_policy,
            name="table",
        )
        self.hidden = keras.layers.Dense(
            embedding_dim,
            activation="silu",
            dtype=self.dtype_policy,
            name="hidden",
        )
        self.output_dense = keras.layers.Dense(
            embedding_dim, dtype=self.dtype_policy, name="output_dense"
        )

    def build(self, input_shape):
        self.table.build((None, 2))
        self.hidden.build((None, self.embedding_dim))
        self.output_dense.build((None, self.embedding_dim))

    def call(self, labels):
        labels = ops.cast(labels, "int32")
        if len(labels.shape) == 1:
            labels = labels[:, None]

        present = ops.cast(labels >= 0, self.compute_dtype)
        count = ops.sum(present, axis=-1, keepdims=True)
        embedded = self.table(ops.maximum(labels, 0))
        total = ops.sum(embedded * present[..., None], axis=1)
        mean = total / ops.maximum(count, 1.0)
        no_label = self.table(ops.full_like(labels[:, :1], self.num_classes))
        combined = ops.where(count > 0, mean, no_label[:, 0])
        return self.output_dense(self.hidden(combined))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.embedding_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_classes": self.num_classes,
                "embedding_dim": self.embedding_dim,
            }
        )
        return config

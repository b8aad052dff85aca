"""The Pokémon type vocabulary: the single source of truth for type ids."""

# The 18 canonical types, in the order the games list them. A type's id is
# its index in this tuple; `-1` stands for "no type" (for instance, no second
# type).
TYPES = (
    "normal",
    "fire",
    "water",
    "electric",
    "grass",
    "ice",
    "fighting",
    "poison",
    "ground",
    "flying",
    "psychic",
    "bug",
    "rock",
    "ghost",
    "dragon",
    "dark",
    "steel",
    "fairy",
)
NUM_TYPES = len(TYPES)
NO_TYPE = -1

_TYPE_IDS = {name: index for index, name in enumerate(TYPES)}


def type_id(name):
    """Return the integer id of a type name.

    Args:
        name: a type name such as `"fire"`, in any case, or an integer id
            (returned unchanged after a range check).

    Returns:
        The type's index in `pokediff.TYPES`.

    Example:

    >>> type_id("Fire")
    1
    """
    if isinstance(name, (int,)) and not isinstance(name, bool):
        if not 0 <= name < NUM_TYPES:
            raise ValueError(
                f"Type ids must be in [0, {NUM_TYPES}). Received: {name}"
            )
        return name
    key = str(name).strip().lower()
    if key not in _TYPE_IDS:
        raise ValueError(
            f"Unknown Pokémon type {name!r}. Expected one of: "
            f"{', '.join(TYPES)}."
        )
    return _TYPE_IDS[key]


def encode_types(types):
    """Encode one Pokémon's one or two types as a pair of ids.

    Args:
        types: a type name or id, or a sequence of one or two of them.
            Empty entries (`None`, `""`, `-1`) mean "no type".

    Returns:
        A list `[first_id, second_id]` with `-1` for a missing second type.

    Example:

    >>> encode_types(("water", "flying"))
    [2, 9]
    >>> encode_types("fire")
    [1, -1]
    """
    if isinstance(types, (str, int)):
        types = [types]
    ids = []
    for entry in types:
        if entry is None or entry == "" or entry == NO_TYPE:
            continue
        ids.append(type_id(entry))
    if len(ids) > 2:
        raise ValueError(
            f"A Pokémon has one or two types. Received: types={types!r}"
        )
    if len(ids) == 2 and ids[0] == ids[1]:
        ids = ids[:1]
    return ids + [NO_TYPE] * (2 - len(ids))


def decode_types(ids):
    """Turn a pair of type ids back into names, dropping `-1` entries.

    Example:

    >>> decode_types([2, 9])
    ('water', 'flying')
    """
    return tuple(TYPES[int(i)] for i in ids if int(i) != NO_TYPE)

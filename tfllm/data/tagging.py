"""Tagging schemes for token classification: IOB1 to IOB2, label lists.

IOB2 ("BIO", Ratinov & Roth 2009) starts every entity with `B-X`; IOB1, the
scheme of the original CoNLL-2003 files (Tjong Kim Sang & De Meulder 2003),
uses `B-X` only between two adjacent entities of the same type.
"""


def split_tag(tag):
    """Splits `"B-PER"` into `("B", "PER")` and `"O"` into `("O", None)`.

    Raises:
        ValueError: the tag is neither `O` nor `B-`/`I-` followed by a type.
    """
    if tag == "O":
        return "O", None
    prefix, sep, entity_type = tag.partition("-")
    if sep != "-" or prefix not in ("B", "I") or not entity_type:
        raise ValueError(
            f"tag {tag!r} is not IOB: expected 'O' or 'B-<type>'/'I-<type>'"
        )
    return prefix, entity_type


def iob1_to_iob2(tags):
    """Converts one sentence's IOB1 tags to IOB2.

    An `I-X` that does not continue an entity of type X (sentence start, after
    `O`, or after another type) becomes `B-X`. Tags that are IOB2 already are
    returned unchanged, so the conversion is idempotent.

    Args:
        tags: list of str. One tag per word.

    Returns:
        list of str, the same length.

    Raises:
        ValueError: a tag is not of IOB form.
    """
    converted = []
    previous_type = None
    for tag in tags:
        prefix, entity_type = split_tag(tag)
        if prefix == "I" and previous_type != entity_type:
            tag = f"B-{entity_type}"
        converted.append(tag)
        previous_type = entity_type
    return converted


def build_label_list(tag_sequences):
    """Builds the ordered id-to-label list from the training tags.

    The order is fixed and independent of hashing: `O`
    first, then entity types in sorted order, each as `B-X`, `I-X`. For every
    type seen, both `B-X` and `I-X` are included, so a model can predict the
    continuation of any entity even if the training split never shows it.

    Args:
        tag_sequences: iterable of lists of IOB2 tags.

    Returns:
        list of str: `id2label`.
    """
    types = set()
    for tags in tag_sequences:
        for tag in tags:
            _, entity_type = split_tag(tag)
            if entity_type is not None:
                types.add(entity_type)
    labels = ["O"]
    for entity_type in sorted(types):
        labels.extend([f"B-{entity_type}", f"I-{entity_type}"])
    return labels


def inside_label_ids(id2label):
    """Maps each label id to the id used on a word's continuation sub-tokens.

    `B-X` maps to `I-X`, every other label to itself (a continuation piece
    is never `B-X`).

    Args:
        id2label: list of str.

    Returns:
        list of int, the same length as `id2label`.
    """
    index = {label: i for i, label in enumerate(id2label)}
    inside = []
    for i, label in enumerate(id2label):
        prefix, entity_type = split_tag(label)
        if prefix == "B":
            inside.append(index.get(f"I-{entity_type}", i))
        else:
            inside.append(i)
    return inside

"""K-shot demonstrations drawn from a labelled training file.

The K examples are split over the labels as evenly as possible (stratified:
`K // L` each, the remaining `K % L` labels chosen at random), drawn without
replacement within each label, and shuffled into one order, all from one
seeded generator: the same seed gives the same demonstrations. Zhao et al.
(2021) show that accuracy swings with the choice and order of the
demonstrations, so report the seed (and several seeds where it matters).
"""

import numpy as np


def sample_demonstrations(examples, shots, labels, seed=0):
    """Draws `shots` labelled examples, stratified over `labels`.

    Args:
        examples: list of `tfllm.data.text_files.TextExample` (or anything
            with `.text` and `.label`).
        shots: int >= 0.
        labels: list of str. The labels to cover (the verbalizer's);
            examples with other labels are not drawn.
        seed: int.

    Returns:
        list of `shots` examples, in a seeded random order.

    Raises:
        ValueError: `shots` is negative, or a label has fewer examples than
            its share (the message names the label and the counts).
    """
    if shots < 0:
        raise ValueError(f"shots must be >= 0, got {shots}")
    if shots == 0:
        return []
    rng = np.random.default_rng(seed)
    share = {label: shots // len(labels) for label in labels}
    for label in rng.choice(labels, shots % len(labels), replace=False):
        share[str(label)] += 1
    drawn = []
    for label in labels:
        pool = [e for e in examples if e.label == label]
        if len(pool) < share[label]:
            raise ValueError(
                f"{shots}-shot needs {share[label]} examples of label "
                f"{label!r}; the training file has {len(pool)}")
        drawn += [pool[i] for i in rng.choice(len(pool), share[label],
                                              replace=False)]
    return [drawn[i] for i in rng.permutation(len(drawn))]

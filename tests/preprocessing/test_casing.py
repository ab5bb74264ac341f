import tensorflow as tf

from tfllm.preprocessing import casing


def test_casing_classes():
    words = ["paris", "PARIS", "Paris", "McDonald", "1996-08-22", "F-16",
             ",", "北京", "I", "élan", "Élan", "ÉLAN"]
    expected = [casing.LOWER, casing.UPPER, casing.TITLE, casing.MIXED,
                casing.NUMERIC, casing.NUMERIC, casing.OTHER,
                casing.UNCASED_LETTER, casing.TITLE, casing.LOWER,
                casing.TITLE, casing.UPPER]
    assert casing.casing_classes(tf.constant(words)).numpy().tolist() == expected

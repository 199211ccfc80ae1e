"""Damage a LiteRT model the way a bad disk block would: weights overwritten, file still loads."""

from __future__ import annotations

from pathlib import Path

NAN_BYTES = 400_000


def damage_largest_weights(file: Path) -> None:
    """Overwrite the first 400 kB of the model's largest weight block with 0xff bytes (NaN as
    float32, -1 as the int8 weights of the shipped model), keeping the file's size and
    structure, so it still loads."""
    from ai_edge_litert.interpreter import Interpreter

    data = bytearray(file.read_bytes())
    interpreter = Interpreter(model_path=str(file))
    interpreter.allocate_tensors()
    weights = []
    for tensor in interpreter.get_tensor_details():
        try:
            weights.append(interpreter.get_tensor(tensor["index"]).tobytes())
        except ValueError:  # not a constant
            continue
    block = max(weights, key=len)
    start = data.find(block)
    assert len(block) >= NAN_BYTES and start >= 0
    data[start : start + NAN_BYTES] = b"\xff" * NAN_BYTES
    file.write_bytes(bytes(data))

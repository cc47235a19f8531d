"""C5, tensor compatibility: the observation batch reaches torch zero-copy, float32, the right shape, and a conv2d runs."""

from __future__ import annotations

from dataclasses import dataclass

from harness.acceptance.criterion_rows import bool_row, not_measured
from harness.verdicts import Criterion

ID = "C5"
NAME = "tensor compatibility"


@dataclass(frozen=True)
class TensorEvidence:
    """C5: what happened when the observation batch was handed to torch."""
    torch_available: bool
    dtype: str  # dtype of the tensor built from the observation batch
    shape: tuple[int, ...]
    dtype_ok: bool
    shape_ok: bool
    shares_memory: bool  # torch.from_numpy gave a zero-copy view of the batch
    torch_op_ok: bool  # a torch op (e.g. conv2d or sum) ran on the batch


def judge(evidence: TensorEvidence | None) -> Criterion:
    """PASS when the batch reaches torch zero-copy with the right dtype and shape and an op runs."""
    if evidence is None:
        return not_measured(ID, NAME)
    if not evidence.torch_available:
        return not_measured(ID, NAME, "torch is not importable")
    checks = {f"dtype {evidence.dtype}": evidence.dtype_ok, f"shape {evidence.shape}": evidence.shape_ok,
              "zero-copy": evidence.shares_memory, "torch op": evidence.torch_op_ok}
    problems = [f"{name} failed" for name, ok in checks.items() if not ok]
    return bool_row(ID, NAME, problems, f"{evidence.dtype} {evidence.shape}, zero-copy, torch op ran")


def tensor_evidence(batch: object, expected_shape: tuple[int, ...]) -> TensorEvidence:
    """C5: dtype float32, the expected shape, zero-copy to numpy, and a conv2d that runs."""
    try:
        import torch
    except ImportError:
        return TensorEvidence(False, "", (), False, False, False, False)
    if not isinstance(batch, torch.Tensor):
        return TensorEvidence(True, type(batch).__name__, (), False, False, False, False)
    shape = tuple(int(n) for n in batch.shape)
    return TensorEvidence(
        torch_available=True,
        dtype=str(batch.dtype).removeprefix("torch."),
        shape=shape,
        dtype_ok=batch.dtype == torch.float32,
        shape_ok=shape == tuple(expected_shape),
        shares_memory=_zero_copy(batch),
        torch_op_ok=_conv2d_runs(batch),
    )


def _zero_copy(batch: object) -> bool:
    """Whether the tensor and its numpy view are one buffer: a write through one shows in the other."""
    import torch

    assert isinstance(batch, torch.Tensor)
    if batch.device.type != "cpu" or batch.numel() == 0:
        return False
    try:
        array = batch.numpy()
    except (RuntimeError, TypeError):  # e.g. bfloat16 has no numpy dtype
        return False
    if array.__array_interface__["data"][0] != batch.data_ptr():
        return False
    index = (0,) * batch.ndim
    old = array[index].copy()
    array[index] = old + 1
    shared = bool(batch[index].item() == float(array[index]))
    array[index] = old
    return shared


def _conv2d_runs(batch: object) -> bool:
    import torch

    assert isinstance(batch, torch.Tensor)
    if batch.ndim != 4:
        return False
    try:
        weight = torch.ones((4, batch.shape[1], 3, 3), dtype=torch.float32, device=batch.device)
        result = torch.nn.functional.conv2d(batch, weight, padding=1)
    except (RuntimeError, TypeError):
        return False
    return tuple(result.shape) == (batch.shape[0], 4, batch.shape[2], batch.shape[3]) and bool(
        torch.isfinite(result).all()
    )

"""Training on several processes or machines under torchrun: batches sharded by photo, gradients averaged.

    torchrun --standalone --nproc-per-node 2 -m engine.adaptive.train --shipped     # both cores here
    torchrun --nnodes 2 --nproc-per-node 8 --rdzv-backend c10d --rdzv-endpoint HOST:29400 --rdzv-id shoot \
        main.py train --kind lowlight --data DIR --name NAME                           # two machines

Why this shape: each family's loop stays a plain one-process loop with four hooks (`shard_sampler` for its
batches, `average_gradients` after backward, `is_main` around its writes, `barrier` before it cleans up)
rather than three copies of DDP plumbing. Outside torchrun (no WORLD_SIZE) they do nothing and the loop
draws exactly the batches it drew before. Gloo carries CPU tensors, NCCL CUDA ones.

Equivalence: a global batch of B samples is drawn from S photo shards (shard s holds photos s, s+S, ...;
S = $LUTLAB_SHARDS, by default the number of processes), B/S samples from each, each shard from its own
generator seeded by a key the loop's own generator draws once a step (so a resumed run draws the same
batches). Rank r draws shards r, r+W, ... and the gradients are averaged over the W ranks; every loss
here is a mean over samples, so that average is the gradient of the whole global batch. A run on W
processes therefore equals a one-process run with LUTLAB_SHARDS=W up to float summation order (the
tolerance is measured in tests/engine/test_distributed.py). Every rank starts from the same seed, scores
the same validation photos and so takes the same decisions; only rank 0 writes. Dropout draws its masks
per rank, so a model with dropout is equivalent in distribution only.
"""

from __future__ import annotations

import copy
import functools
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from engine.errors import InputError

SHARDS_VARIABLE = "LUTLAB_SHARDS"

Batch = tuple
Sampler = Callable[[np.random.Generator], Batch]


@dataclass(frozen=True)
class Context:
    rank: int = 0
    world: int = 1
    shards: int = 1  # photo shards a global batch is drawn from: a multiple of `world`


@functools.cache
def context() -> Context:
    """This process's place in the run, read from torchrun's environment; the process group is joined on the
    first call (gloo for CPU tensors, plus NCCL for CUDA ones where there is a GPU)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    shards = int(os.environ.get(SHARDS_VARIABLE) or world)
    if shards < 1 or shards % world:
        raise InputError(f"{SHARDS_VARIABLE}={shards} must be a positive multiple of the {world} processes")
    if world > 1:
        import torch
        import torch.distributed as dist

        if not dist.is_initialized():
            if torch.cuda.is_available():
                torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
                dist.init_process_group("cpu:gloo,cuda:nccl")
            else:
                dist.init_process_group("gloo")
    return Context(rank, world, shards)


def is_main() -> bool:
    """True on the process that writes checkpoints and results (rank 0; the only one outside torchrun)."""
    return context().rank == 0


def barrier() -> None:
    """Wait until every process gets here (e.g. rank 0 has written its last checkpoint before cleanup)."""
    if context().world > 1:
        import torch.distributed as dist

        dist.barrier()


def shard_sampler(make: Callable[[list, int], Sampler], items: Sequence, batch: int) -> Sampler:
    """This process's share of a global batch of `batch` samples, sharded by photo (see the module notes).

    `make(photos, n)` returns the family's own sampler: rng -> tuple of arrays or tensors of n samples
    drawn from `photos` only. With one shard it is `make(items, batch)` itself, untouched."""
    run = context()
    if run.shards == 1:
        return make(list(items), batch)
    if batch % run.shards:
        raise InputError(f"a batch of {batch} cannot be split into {run.shards} equal photo shards")
    if len(items) < run.shards:
        raise InputError(f"{len(items)} photo(s) cannot fill {run.shards} shards: use fewer processes")
    mine = [
        (shard, make([items[i] for i in range(shard, len(items), run.shards)], batch // run.shards))
        for shard in range(run.rank, run.shards, run.world)
    ]

    def draw(rng: np.random.Generator) -> Batch:
        key = int(rng.integers(2**63))
        parts = [sample(np.random.default_rng([key, shard])) for shard, sample in mine]
        return tuple(_concatenate([part[i] for part in parts]) for i in range(len(parts[0])))

    return draw


def shard_source(source, attribute: str, batch: int) -> Sampler:
    """`shard_sampler` for a batch-source object (`source.batch(rng, n)`) whose photos are `source.<attribute>`."""

    def make(photos: list, n: int) -> Sampler:
        part = copy.copy(source)
        setattr(part, attribute, photos)
        return functools.partial(part.batch, size=n)

    return shard_sampler(make, getattr(source, attribute), batch)


def average_gradients(model) -> None:
    """After backward: every process's gradients become their mean over all processes (one all-reduce per
    device of one flat buffer), so every process then takes the same optimizer step."""
    run = context()
    if run.world == 1:
        return
    import torch
    import torch.distributed as dist

    grads = [p.grad for p in model.parameters() if p.grad is not None]
    by_device: dict = {}
    for grad in grads:
        by_device.setdefault(grad.device, []).append(grad)
    for same_device in by_device.values():
        flat = torch.cat([g.reshape(-1) for g in same_device])
        dist.all_reduce(flat)
        flat /= run.world
        offset = 0
        for grad in same_device:
            grad.copy_(flat[offset : offset + grad.numel()].view_as(grad))
            offset += grad.numel()


def _concatenate(parts: list):
    if isinstance(parts[0], np.ndarray):
        return np.concatenate(parts)
    import torch

    return torch.cat(parts)

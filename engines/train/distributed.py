"""Data-parallel training over the processes `accelerate launch` starts (one per GPU).

The harness is the same program with one process or several; the launcher is the only
difference (studio/training.py picks it). With several, each process builds the same trainer
from the same seed, takes its share of every batch, and before each optimiser step the
gradients of that optimiser's parameters are averaged over the processes (a global optimiser
step pre-hook, so no trainer needs code of its own for it). The weights therefore stay equal
on every process. Process 0 (the lead) alone writes events, samples, checkpoints and the model;
a stop is agreed on by all at the top of every step, so all stop after the same step.

Random draws: the data order comes from the run's generator on every process alike; the
trainer's own draws (noise, timesteps, augmentation) come from a generator per process and
step, seeded from the run's generator, so a resume is still exact. BatchNorm running
statistics are not averaged (as with DDP's default, the lead's are the ones saved).
"""
from __future__ import annotations

import os
import weakref

import torch
import torch.distributed as dist


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


class DataParallel:
    def __init__(self, device: str):
        from accelerate import PartialState

        self.state = PartialState(cpu=device == "cpu")  # joins the process group torchrun set up
        self.rank, self.size = self.state.process_index, self.state.num_processes
        self.device = str(self.state.device) if device != "cpu" else "cpu"
        from torch.optim.optimizer import register_optimizer_step_pre_hook

        self._optimizers = weakref.WeakSet()  # every optimiser that stepped: what check_in_step compares
        self._hook = register_optimizer_step_pre_hook(self._average_gradients)

    @property
    def lead(self) -> bool:
        return self.rank == 0

    def shard(self, rows):
        """This process's share of a batch's rows (every process gets the same count)."""
        if len(rows) < self.size:
            from engines.api import ParamError

            raise ParamError(f"a batch of {len(rows)} cannot be split over {self.size} processes; "
                             f"use batch_size of at least {self.size}")
        return rows[self.rank::self.size][:len(rows) // self.size]

    def step_generator(self, generator: torch.Generator) -> torch.Generator:
        seed = int(torch.randint(0, 2**62, (1,), generator=generator))  # the same draw on every process
        return torch.Generator("cpu").manual_seed(seed + self.rank)

    def any(self, flag: bool) -> bool:
        t = torch.tensor([1.0 if flag else 0.0], device=self._collective_device())
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())

    def mean(self, values: dict) -> dict:
        """The processes' average of each loss (each saw its own share of the batch)."""
        if not values:
            return values
        keys = sorted(values)
        t = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=self._collective_device())
        dist.all_reduce(t)
        return {k: v / self.size for k, v in zip(keys, t.tolist())}

    def check_in_step(self) -> None:
        """Raise on every process unless all hold the same trained weights and optimiser moments:
        a trainer whose processes drifted apart would save one process's view as the run's."""
        mine = torch.tensor([_fingerprint(self._optimizers)], dtype=torch.float64, device=self._collective_device())
        every = [torch.zeros_like(mine) for _ in range(self.size)]
        dist.all_gather(every, mine)
        if any(not torch.equal(t, every[0]) for t in every):
            from engines.api import EngineError

            raise EngineError("the training processes no longer hold the same weights; this trainer cannot "
                              "train data parallel (set processes to 1)")

    def close(self, wait_for_peers: bool) -> None:
        """Leave the process group. After a normal end every process waits for the others
        first: one that tore its group down while the lead was still saving the last
        checkpoint died at exit in gloo ("terminate called without an active exception"),
        and the launcher then killed the lead. Not after an error: a peer may be gone, and
        the barrier would wait for it until gloo's timeout."""
        self._hook.remove()
        if dist.is_initialized():
            if wait_for_peers:
                dist.barrier()
            dist.destroy_process_group()

    def _collective_device(self):
        return self.device if dist.get_backend() == "nccl" else "cpu"

    def _average_gradients(self, optimizer, args, kwargs) -> None:
        self._optimizers.add(optimizer)
        grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        by_kind: dict = {}
        for g in grads:
            by_kind.setdefault((g.dtype, g.device), []).append(g)
        for same in by_kind.values():  # one all-reduce per dtype and device, not one per tensor
            flat = torch.cat([g.reshape(-1) for g in same])
            dist.all_reduce(flat)
            flat /= self.size
            offset = 0
            for g in same:
                g.copy_(flat[offset:offset + g.numel()].view_as(g))
                offset += g.numel()


def _fingerprint(optimizers) -> float:
    """A sum over the optimisers' parameters and moments, position-weighted so a swap shows
    (and summed over the optimisers, whose order differs between processes)."""
    total = 0.0
    for opt in optimizers:
        tensors = []
        for group in opt.param_groups:
            for p in group["params"]:
                tensors.append(p)
                tensors.extend(v for v in opt.state.get(p, {}).values() if torch.is_tensor(v))
        total += sum(float(t.detach().double().abs().sum()) * (i + 1) for i, t in enumerate(tensors))
    return total

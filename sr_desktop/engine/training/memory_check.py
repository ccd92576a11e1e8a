"""Whether one training step fits in the training device's memory, asked before the images
are read: a mistyped ``--batch`` (100000 for 100) ran the machine out of memory, swapping
for minutes until the system killed the process, or failed after the images were read.

The estimate: the float32 LR and HR patches of one batch plus the output of every layer of
the network for them (what autograd keeps for the backward pass), counted by a forward pass
without gradients on one patch of at most 16 pixels and scaled to the patch's area (a 48-px
patch of RCAN took 7 s to count, 0.8 s at 16 px; the layers' outputs grow with the area);
in mixed precision the activations count two bytes each. A batch refused needs more memory
than is free; one let through may still need more (the backward pass, the optimiser's
state), which the run's memory error says.
"""

from __future__ import annotations

import torch

from sr_desktop.engine.compute.devices import free_memory_bytes
from sr_desktop.engine.training.errors import TrainingError
from sr_desktop.engine.training.networks import TrainNet

#: the side of the patch the layers' outputs are counted on
PROBE_PATCH = 16


def activation_elements(net: TrainNet, patch: int, scale: int) -> int:
    """About how many values the layers of `net` output for one LR patch of `patch` pixels
    at `scale` (its leaf modules' outputs, the network's own output included): counted on
    a patch of `PROBE_PATCH` pixels, scaled to `patch`'s area (counted on `patch` itself
    where the network refuses the smaller one)."""
    probe = min(patch, PROBE_PATCH)
    try:
        return round(_counted_elements(net, probe, scale) * (patch / probe) ** 2)
    except Exception:  # a size the network does not take (a window, a pyramid level)
        if probe == patch:
            raise
        return _counted_elements(net, patch, scale)


def _counted_elements(net: TrainNet, patch: int, scale: int) -> int:
    counted = [0]

    def count(_module, _inputs, output) -> None:
        for tensor in output if isinstance(output, tuple | list) else (output,):
            if isinstance(tensor, torch.Tensor):
                counted[0] += tensor.numel()

    leaves = [m for m in net.module.modules() if next(m.children(), None) is None]
    hooks = [m.register_forward_hook(count) for m in leaves]
    was_training = net.module.training
    net.module.eval()  # (a batch norm in training mode would take this patch into its statistics)
    try:
        with torch.no_grad():
            net(torch.zeros(1, 3, patch, patch), scale)
    finally:
        net.module.train(was_training)
        for hook in hooks:
            hook.remove()
    return counted[0]


def check_batch_fits(net: TrainNet, batch: int, patch: int, scale: int, device: torch.device,
                     mixed_precision: bool) -> None:
    """`TrainingError` when one step's batch and activations (the lower bound above) are
    more than the memory free on `device`."""
    activation_bytes = 2 if mixed_precision else 4
    per_patch = activation_elements(net, patch, scale) * activation_bytes + 4 * 3 * patch ** 2 * (1 + scale ** 2)
    need, free = batch * per_patch, free_memory_bytes(device)
    if need > free:
        where = "the GPU" if device.type == "cuda" else "this machine"
        raise TrainingError(f"--batch {batch} of --patch {patch} needs at least {need / 2**30:.1f} GiB "
                            f"({per_patch / 2**20:.2f} MiB a patch for its layers' outputs); {where} has "
                            f"{free / 2**30:.1f} GiB free: lower --batch or --patch")

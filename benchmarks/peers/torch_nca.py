"""The Distill NCA in PyTorch, written from the published spec (eager, and ``torch.compile``).

NCHW tensors; perception is a grouped (depthwise) ``conv2d`` with the identity and Sobel
kernels, the update rule two 1×1 convolutions (48→128, ReLU, →16), the stochastic update
``rand < fire_rate``, alive masking with a 3×3 max-pool on alpha > 0.1. Training: a rollout
recorded by autograd, MSE on RGBA, each parameter's gradient divided by its norm, then
``torch.optim.Adam`` (eps 1e-7). With ``torch.compile`` the step function is compiled (Inductor,
C++ on CPU) and the rollout loops over it; backward goes through the compiled graphs.

Install: ``pip install torch==2.13.0`` (the CPU wheel); ``torch.compile`` needs a C++ compiler.
"""

from __future__ import annotations

import numpy as np

from . import PeerRow, Setting, depthwise_kernel_order, perception_kernels


def make(setting: Setting) -> list[PeerRow]:
    import torch

    torch.manual_seed(setting.seed)
    return [_row(torch, setting, compiled) for compiled in (False, True)]


def _row(torch, setting: Setting, compiled: bool) -> PeerRow:
    import torch.nn.functional as F

    c = setting.channels
    p = setting.params
    kernels = perception_kernels()  # (3, 3, k)
    perception = torch.from_numpy(np.ascontiguousarray(np.tile(kernels.transpose(2, 0, 1), (c, 1, 1))[:, None]))
    w0 = depthwise_kernel_order(np.asarray(p["dense_0"]["kernel"]), c)  # (3C, hidden)
    params = [
        torch.tensor(np.ascontiguousarray(w0.T[:, :, None, None]), requires_grad=True),
        torch.tensor(np.asarray(p["dense_0"]["bias"]), requires_grad=True),
        torch.tensor(np.ascontiguousarray(np.asarray(p["dense_1"]["kernel"]).T[:, :, None, None]), requires_grad=True),
        torch.tensor(np.asarray(p["dense_1"]["bias"]), requires_grad=True),
    ]
    optimizer = torch.optim.Adam(params, lr=setting.learning_rate, eps=1e-7)
    states = torch.from_numpy(np.ascontiguousarray(setting.states.transpose(0, 3, 1, 2)))
    target = torch.from_numpy(np.ascontiguousarray(setting.target.transpose(2, 0, 1)))[None]

    def alive(x):
        return F.max_pool2d(x[:, 3:4], 3, 1, 1) > 0.1

    def step(x, w0, b0, w1, b1, fire_rate: float):
        pre = alive(x)
        y = F.conv2d(x, perception, padding=1, groups=c)
        dx = F.conv2d(torch.relu(F.conv2d(y, w0, b0)), w1, b1)
        fire = (torch.rand_like(x[:, :1]) < fire_rate).to(x.dtype)
        x = x + dx * fire
        return x * (pre & alive(x)).to(x.dtype)

    step_fn = torch.compile(step, dynamic=False) if compiled else step

    def rollout(x):
        for _ in range(setting.steps):
            x = step_fn(x, *params, setting.fire_rate)
        return x

    def train():
        optimizer.zero_grad(set_to_none=True)
        loss = torch.mean(torch.square(rollout(states)[:, :4] - target))
        loss.backward()
        with torch.no_grad():
            for q in params:
                q.grad /= torch.linalg.vector_norm(q.grad) + 1e-8
        optimizer.step()
        return float(loss.detach())

    def infer():
        with torch.no_grad():
            return rollout(states).numpy()

    def check():
        with torch.no_grad():
            return step(states, *params, 2.0).numpy().transpose(0, 2, 3, 1)  # rand < 2: every cell fires

    return PeerRow(
        name=f"PyTorch {torch.__version__.split('+')[0]} " + ("torch.compile" if compiled else "eager"),
        train=train,
        infer=infer,
        check=check,
        note="grouped conv + 1×1 convs, NCHW",
    )

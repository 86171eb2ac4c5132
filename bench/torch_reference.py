"""PyTorch's training steps for the article's Resnet and Shake-Shake-26 2x32d on whatever device is
there (CUDA if present): the figures hajime's steps are compared with on the same card
(bench/gpu_check.sh). The protocol is bench/train_step.ts's: Adam 0.003, cross-entropy, random
inputs (uniform [0, 1) images, random labels), one untimed step, one step to size the rounds, then
timed rounds of about --round-seconds (at most 50 steps, synchronised at the round's end only);
prints images/s, the median of the rounds, per model and batch size.

Shake-Shake-26 2x32d is the twin of hajime's factory (src/models/shake_shake.ts), parameter for
parameter (2,923,162): 3x3 stem of 16 filters + BN, three stages of four blocks of widths 32, 64,
128, head ReLU -> global average pool -> Linear. A block is `a*p1(relu x) + (1-a)*p2(relu x)` plus
its shortcut, each path conv3x3 (stride) -> BN -> ReLU -> conv3x3 -> BN, with a fresh a ~ U(0,1)
per image forward and an independent b ~ U(0,1) per image backward (gradient b*g to p1, (1-b)*g to
p2), a = 0.5 in eval; where width or stride changes, the shortcut is two 1x1 stride-s flows of
relu x (the second shifted by one pixel, as the PyTorch ports pad it) -> 1x1 conv to half width
each, concatenated -> BN.
"""
import argparse
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class BnLayer(nn.Module):
    def __init__(self, ni, nf, stride=2, kernel_size=3):
        super().__init__()
        self.conv = nn.Conv2d(ni, nf, kernel_size, stride, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(nf)

    def forward(self, x):
        return self.bn(F.relu(self.conv(x)))


class ResnetLayer(BnLayer):
    def forward(self, x):
        return x + super().forward(x)


class Resnet(nn.Module):
    def __init__(self, layers=(16, 32, 64, 128, 256), c=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, layers[0], 5, 1, 2)
        self.layers = nn.ModuleList([BnLayer(layers[i], layers[i + 1]) for i in range(len(layers) - 1)])
        self.layers2 = nn.ModuleList([ResnetLayer(layers[i + 1], layers[i + 1], 1) for i in range(len(layers) - 1)])
        self.layers3 = nn.ModuleList([ResnetLayer(layers[i + 1], layers[i + 1], 1) for i in range(len(layers) - 1)])
        self.out = nn.Linear(layers[-1], c)

    def forward(self, x):
        x = self.conv1(x)
        for l, l2, l3 in zip(self.layers, self.layers2, self.layers3):
            x = l3(l2(l(x)))
        x = F.adaptive_max_pool2d(x, 1).flatten(1)
        return F.log_softmax(self.out(x), dim=-1)


class ShakeShake(torch.autograd.Function):
    """alpha*x1 + (1-alpha)*x2 forward; backward sends beta*g to x1 and (1-beta)*g to x2."""

    @staticmethod
    def forward(ctx, x1, x2, alpha, beta):
        ctx.save_for_backward(beta)
        return alpha * x1 + (1 - alpha) * x2

    @staticmethod
    def backward(ctx, grad):
        (beta,) = ctx.saved_tensors
        return beta * grad, (1 - beta) * grad, None, None


class ResidualPath(nn.Module):
    def __init__(self, ni, nf, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(ni, nf, 3, stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(nf)
        self.conv2 = nn.Conv2d(nf, nf, 3, 1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(nf)

    def forward(self, x):
        return self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))


class DownsamplingShortcut(nn.Module):
    def __init__(self, ni, nf, stride):
        super().__init__()
        self.stride = stride
        self.conv1 = nn.Conv2d(ni, nf // 2, 1, bias=False)
        self.conv2 = nn.Conv2d(ni, nf // 2, 1, bias=False)
        self.bn = nn.BatchNorm2d(nf)

    def forward(self, x):
        y1 = self.conv1(F.avg_pool2d(x, 1, self.stride))
        y2 = self.conv2(F.avg_pool2d(F.pad(x[:, :, 1:, 1:], (0, 1, 0, 1)), 1, self.stride))
        return self.bn(torch.cat([y1, y2], dim=1))


class ShakeShakeBlock(nn.Module):
    def __init__(self, ni, nf, stride):
        super().__init__()
        self.residual_path1 = ResidualPath(ni, nf, stride)
        self.residual_path2 = ResidualPath(ni, nf, stride)
        self.shortcut = DownsamplingShortcut(ni, nf, stride) if ni != nf or stride != 1 else None

    def forward(self, x):
        r = F.relu(x)
        p1, p2 = self.residual_path1(r), self.residual_path2(r)
        if self.training:
            n = x.shape[0]
            alpha = torch.rand(n, 1, 1, 1, device=x.device)
            beta = torch.rand(n, 1, 1, 1, device=x.device)
            mixed = ShakeShake.apply(p1, p2, alpha, beta)
        else:
            mixed = 0.5 * (p1 + p2)
        return mixed + (x if self.shortcut is None else self.shortcut(r))


class ShakeShake26(nn.Module):
    def __init__(self, k=32, c=10):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, 1, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(16)
        widths = (16, k, 2 * k, 4 * k)

        def stage(s):
            return nn.Sequential(*[
                ShakeShakeBlock(widths[s] if i == 0 else widths[s + 1], widths[s + 1],
                                (1 if s == 0 else 2) if i == 0 else 1)
                for i in range(4)
            ])

        self.stage1, self.stage2, self.stage3 = stage(0), stage(1), stage(2)
        self.fc = nn.Linear(4 * k, c)

    def forward(self, x):
        h = self.stage3(self.stage2(self.stage1(self.bn(self.conv(x)))))
        return self.fc(F.adaptive_avg_pool2d(F.relu(h), 1).flatten(1))


# Factory and parameter count of each model, by hajime's registry name.
MODELS = {
    "resnet": (Resnet, 1_965_066),
    "shake-shake-26-2x32d": (ShakeShake26, 2_923_162),
}


def time_model(name, batch, device, round_seconds, rounds):
    factory, parameters = MODELS[name]
    model = factory().to(device)
    count = sum(p.numel() for p in model.parameters())
    if count != parameters:
        raise SystemExit(f"{name}: {count} parameters, hajime's factory has {parameters}")
    optimizer = torch.optim.Adam(model.parameters(), lr=0.003)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.rand(batch, 3, 32, 32, device=device)
    y = torch.randint(0, 10, (batch,), device=device)

    def run(steps):
        for _ in range(steps):
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
        return loss.item()  # waits for the device

    run(1)
    start = time.perf_counter()
    run(1)
    once = time.perf_counter() - start
    steps = max(1, min(50, round(round_seconds / once)))
    per_step = []
    for _ in range(rounds):
        start = time.perf_counter()
        loss = run(steps)
        per_step.append((time.perf_counter() - start) / steps)
    median = statistics.median(per_step)
    print(f"torch {name} batch {batch}: {batch / median:.0f} images/s median "
          f"({median * 1e3:.2f} ms/step, {steps} steps x {rounds} rounds, loss {loss:.3f})",
          flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--batches", default="32,128")
    parser.add_argument("--round-seconds", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    name = torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu"
    print(f"torch {torch.__version__}, device: {name}, cudnn.benchmark "
          f"{torch.backends.cudnn.benchmark}, cudnn.allow_tf32 {torch.backends.cudnn.allow_tf32}, "
          f"matmul.allow_tf32 {torch.backends.cuda.matmul.allow_tf32}", flush=True)
    for model in args.models.split(","):
        for batch in (int(b) for b in args.batches.split(",")):
            time_model(model, batch, device, args.round_seconds, args.rounds)


if __name__ == "__main__":
    main()

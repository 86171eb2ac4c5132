"""PyTorch's training step for the article's Resnet on whatever device is there (CUDA if present),
Adam 0.003, cross-entropy, random inputs: the figure hajime's Resnet step is compared with on the
same card (bench/gpu_check.sh). Prints images/s, median of timed steps after warm-up."""
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


def main():
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    print("device:", torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu")
    model = Resnet().to(device)
    print("parameters:", sum(p.numel() for p in model.parameters()))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.003)
    loss_fn = nn.CrossEntropyLoss()
    for batch in (32, 128):
        x = torch.rand(batch, 3, 32, 32, device=device)
        y = torch.randint(0, 10, (batch,), device=device)
        times = []
        for step in range(25):
            start = time.perf_counter()
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            loss.item()
            if step >= 5:
                times.append(time.perf_counter() - start)
        print(f"resnet batch {batch}: {batch / statistics.median(times):.1f} images/s")


if __name__ == "__main__":
    main()

"""Train LeNet-5 with DistributedDataParallel and record it to a directory a notebook can follow.

On CPUs (gloo), two processes::

    torchrun --nproc_per_node=2 examples/train_ddp.py --out runs/ddp

On GPUs (NCCL), one process per GPU::

    torchrun --nproc_per_node=4 examples/train_ddp.py --out runs/ddp --backend nccl

Meanwhile, in a notebook (any machine that sees the directory; no torch needed there)::

    import nnviz_widgets as nv
    nv.TrainingExplorer(nv.Recording.open("runs/ddp", follow=True))

Every rank keeps the Recorder's step hooks; rank 0 alone takes the snapshots and writes them.
"""

from __future__ import annotations

import argparse
import os
import time

import torch
import torch.distributed as dist
from torch.nn import functional as F
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

import nnviz_widgets as nv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/ddp", help="recording directory (rank 0 writes)")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64, help="per process")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--backend", default="gloo", choices=["gloo", "nccl"])
    parser.add_argument("--overwrite", action="store_true", help="replace a recording in --out")
    args = parser.parse_args()

    dist.init_process_group(args.backend)
    rank, world = dist.get_rank(), dist.get_world_size()
    if args.backend == "nccl":
        local_rank = int(os.environ.get("LOCAL_RANK", 0))
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
    try:
        torch.manual_seed(0)  # the same initial weights on every rank
        data = nv.datasets.digits(size=28)
        dataset = TensorDataset(data.train_images, data.train_labels)
        sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, seed=0)
        loader = DataLoader(dataset, batch_size=args.batch_size, sampler=sampler)
        model = nv.models.LeNet5().to(device)
        ddp = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
        optimizer = torch.optim.Adam(ddp.parameters(), lr=args.lr)
        probe = (data.probe_images.to(device), data.probe_labels.to(device))
        test_x, test_y = data.test_images.to(device), data.test_labels.to(device)
        with nv.Recorder(
            ddp, probe=probe, optimizer=optimizer, path=args.out, overwrite=args.overwrite
        ) as rec:
            for epoch in range(args.epochs):
                sampler.set_epoch(epoch)
                start = time.perf_counter()
                for x, y in loader:
                    optimizer.zero_grad()
                    loss = F.cross_entropy(ddp(x.to(device)), y.to(device))
                    loss.backward()
                    optimizer.step()
                # the mean training loss across ranks: a collective every rank calls
                summed = loss.detach().clone()
                dist.all_reduce(summed)
                model.eval()
                with torch.no_grad():
                    accuracy = (model(test_x).argmax(1) == test_y).float().mean()
                model.train()
                rec.snapshot(epoch=epoch, loss=summed / world, accuracy=accuracy)
                if rank == 0:
                    print(
                        f"epoch {epoch}: loss {float(summed) / world:.3f}, test accuracy "
                        f"{float(accuracy):.3f}, {time.perf_counter() - start:.1f} s",
                        flush=True,
                    )
        if rank == 0:
            print(f"recorded {len(rec.recording)} snapshots to {args.out}")
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()

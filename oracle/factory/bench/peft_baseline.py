#!/usr/bin/env python3
"""LoRA fine-tuning throughput baseline: PyTorch + Hugging Face PEFT on the CPU.

This is a reference point for the factory's own LoRA trainer. It loads a GGUF
base model (default: SmolLM2-135M-Instruct, Q4_1) through transformers' GGUF
loader, which dequantizes every tensor to float32, wraps it with a PEFT LoRA
adapter and times supervised fine-tuning steps on synthetic data.

Configuration mirrored:
  * base model in float32, ``torch.set_num_threads(--threads)``;
  * ``peft.LoraConfig(r=--rank, lora_alpha=--alpha, lora_dropout=0.0,
    target_modules=--targets, layers_to_transform=<top --top-layers layers>,
    task_type="CAUSAL_LM")``;
  * ``--seqs`` sequences of ``--seq-len`` random token ids (fixed ``--seed``),
    loss on the last ``--answer-len`` tokens only (labels are -100 elsewhere),
    micro-batches of ``--batch`` sequences, cycled through in order;
  * ``torch.optim.AdamW(lr=--lr)`` over the LoRA parameters only; each step is
    forward, loss, backward, ``clip_grad_norm_(1.0)``, step, zero_grad;
  * ``--warmup`` untimed steps, then ``--steps`` timed steps.

Output: one JSON line on stdout. ``tokens_per_s`` counts every token of the
sequences processed (batch * seq_len per step); ``answer_tokens_per_s`` counts
only the supervised tokens (batch * answer_len per step); ``step_s`` is the
mean wall time of a timed step; ``peak_rss_mib`` is the process's peak RSS
(``getrusage(RUSAGE_SELF).ru_maxrss``), which includes the dequantization at
load time. Progress goes to stderr.

Needs torch, transformers, peft, gguf (and numpy). No network access is used:
the GGUF file is local and HF_HUB_OFFLINE is set.

Usage:
  python peft_baseline.py [--gguf PATH] [--threads N] [--rank 8] [--alpha 16]
      [--targets q_proj,k_proj,v_proj,o_proj] [--top-layers N]
      [--seqs 16] [--seq-len 96] [--answer-len 32] [--batch 4]
      [--warmup 2] [--steps 8] [--lr 2e-4] [--seed 0]

Examples:
  python peft_baseline.py --threads 2
  python peft_baseline.py --threads 2 --top-layers 4
  python peft_baseline.py --threads 2 \\
      --targets q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
import warnings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")

DEFAULT_GGUF = os.path.expanduser(
    "~/.cache/lineage/models/SmolLM2-135M-Instruct.Q4_1.gguf"
)


def log(msg: str) -> None:
    print(f"[peft_baseline] {msg}", file=sys.stderr, flush=True)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Measure LoRA SFT throughput with PyTorch + PEFT on the CPU.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--gguf", default=DEFAULT_GGUF, help="path to the GGUF base model")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                   help="torch.set_num_threads value")
    p.add_argument("--rank", type=int, default=8, help="LoRA rank r")
    p.add_argument("--alpha", type=float, default=16.0, help="LoRA alpha")
    p.add_argument("--targets", default="q_proj,k_proj,v_proj,o_proj",
                   help="comma-separated LoRA target modules")
    p.add_argument("--top-layers", type=int, default=None,
                   help="adapt only the top N decoder layers (default: all)")
    p.add_argument("--seqs", type=int, default=16, help="number of synthetic sequences")
    p.add_argument("--seq-len", type=int, default=96, help="tokens per sequence")
    p.add_argument("--answer-len", type=int, default=32,
                   help="supervised tokens at the end of each sequence")
    p.add_argument("--batch", type=int, default=4, help="sequences per micro-batch")
    p.add_argument("--warmup", type=int, default=2, help="untimed warm-up steps")
    p.add_argument("--steps", type=int, default=8, help="timed steps")
    p.add_argument("--lr", type=float, default=2e-4, help="AdamW learning rate")
    p.add_argument("--seed", type=int, default=0, help="seed for data and LoRA init")
    a = p.parse_args(argv)
    if not 0 < a.answer_len <= a.seq_len:
        p.error("--answer-len must be in 1..--seq-len")
    if a.batch < 1 or a.seqs < a.batch:
        p.error("need 1 <= --batch <= --seqs")
    if a.steps < 1 or a.warmup < 0:
        p.error("need --steps >= 1 and --warmup >= 0")
    return a


def main(argv=None) -> int:
    args = parse_args(argv)

    import torch
    torch.set_num_threads(args.threads)
    import peft
    import transformers
    from transformers import AutoModelForCausalLM

    warnings.filterwarnings("ignore", category=UserWarning)
    transformers.logging.set_verbosity_error()
    try:  # keep the dequantization progress bar off stdout/stderr noise
        transformers.utils.logging.disable_progress_bar()
    except Exception:
        pass

    torch.manual_seed(args.seed)

    # --- base model: GGUF dequantized to float32 ---------------------------
    t0 = time.perf_counter()
    model_dir, gguf_name = os.path.split(os.path.abspath(args.gguf))
    model = AutoModelForCausalLM.from_pretrained(
        model_dir, gguf_file=gguf_name, dtype=torch.float32
    )
    model.config.use_cache = False
    load_s = time.perf_counter() - t0
    n_layers = model.config.num_hidden_layers
    top = n_layers if args.top_layers is None else args.top_layers
    if not 1 <= top <= n_layers:
        raise SystemExit(f"--top-layers must be in 1..{n_layers}")
    log(f"loaded {gguf_name} ({type(model).__name__}, {n_layers} layers) in {load_s:.1f}s")

    # --- LoRA adapter ------------------------------------------------------
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    lora_cfg = peft.LoraConfig(
        r=args.rank,
        lora_alpha=args.alpha,
        lora_dropout=0.0,
        target_modules=targets,
        layers_to_transform=list(range(n_layers - top, n_layers)),
        task_type="CAUSAL_LM",
    )
    model = peft.get_peft_model(model, lora_cfg)
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    n_trainable = sum(p.numel() for p in trainable)
    n_total = sum(p.numel() for p in model.parameters())
    log(f"LoRA: {n_trainable} trainable / {n_total} params, targets={targets}, top_layers={top}")

    # --- synthetic data ----------------------------------------------------
    gen = torch.Generator().manual_seed(args.seed)
    vocab = model.config.vocab_size
    input_ids = torch.randint(0, vocab, (args.seqs, args.seq_len), generator=gen)
    labels = torch.full_like(input_ids, -100)
    labels[:, -args.answer_len:] = input_ids[:, -args.answer_len:]
    attention_mask = torch.ones_like(input_ids)
    n_batches = args.seqs // args.batch  # a trailing partial batch is dropped

    def batch_at(step: int):
        i = (step % n_batches) * args.batch
        sl = slice(i, i + args.batch)
        return input_ids[sl], attention_mask[sl], labels[sl]

    optim = torch.optim.AdamW(trainable, lr=args.lr)

    def train_step(step: int) -> float:
        ids, mask, lab = batch_at(step)
        out = model(input_ids=ids, attention_mask=mask, labels=lab)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optim.step()
        optim.zero_grad(set_to_none=True)
        return float(out.loss.detach())

    # --- warm-up, then timed steps -----------------------------------------
    for s in range(args.warmup):
        t = time.perf_counter()
        loss = train_step(s)
        log(f"warmup {s + 1}/{args.warmup}: loss {loss:.4f} ({time.perf_counter() - t:.3f}s)")

    step_times, losses = [], []
    for s in range(args.steps):
        t = time.perf_counter()
        losses.append(train_step(args.warmup + s))
        step_times.append(time.perf_counter() - t)
        log(f"step {s + 1}/{args.steps}: loss {losses[-1]:.4f} ({step_times[-1]:.3f}s)")

    total_s = sum(step_times)
    tokens = args.steps * args.batch * args.seq_len
    answer_tokens = args.steps * args.batch * args.answer_len
    peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux

    result = {
        "framework": "pytorch-peft",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
        "model": gguf_name,
        "dtype": "float32",
        "threads": torch.get_num_threads(),
        "targets": targets,
        "top_layers": top,
        "rank": args.rank,
        "alpha": args.alpha,
        "trainable_params": n_trainable,
        "seqs": args.seqs,
        "batch": args.batch,
        "seq_len": args.seq_len,
        "answer_len": args.answer_len,
        "warmup": args.warmup,
        "steps": args.steps,
        "tokens_per_s": round(tokens / total_s, 2),
        "answer_tokens_per_s": round(answer_tokens / total_s, 2),
        "step_s": round(total_s / args.steps, 4),
        "step_s_min": round(min(step_times), 4),
        "step_s_max": round(max(step_times), 4),
        "loss_first": round(losses[0], 4),
        "loss_last": round(losses[-1], 4),
        "load_s": round(load_s, 2),
        "peak_rss_mib": round(peak_rss_mib, 1),
    }
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

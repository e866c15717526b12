"""The reference for bench/bench_lora_text.py: a plain peft LoRA training loop for a causal LM,
as peft's own causal-language-modelling examples write it: the base model from its folder, a
LoraConfig (task CAUSAL_LM, peft's target modules for the architecture), get_peft_model,
AdamW; per step: forward with labels (transformers' shifted cross-entropy), backward, clip the
gradient norm to 1 (transformers' Trainer does by default), step, zero the gradients. No data
loading beyond a fixed batch of token ids, no logging.
"""
import time

import torch


def train(model: str, steps: int, batch: int, block: int, rank: int, lr: float = 2e-4,
          dropout: float = 0.05) -> list[float]:
    """Runs `steps` steps; returns the time each ended (perf_counter)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(model, use_safetensors=True, dtype=torch.float32)
    lm = get_peft_model(base, LoraConfig(r=rank, lora_alpha=rank, lora_dropout=dropout, task_type="CAUSAL_LM"))
    optimizer = torch.optim.AdamW([p for p in lm.parameters() if p.requires_grad], lr=lr)
    lm.train()
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(0, base.config.vocab_size, (batch, block), generator=generator)
    ends = []
    for _ in range(steps):
        loss = lm(input_ids=ids, labels=ids).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for p in lm.parameters() if p.requires_grad], 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        ends.append(time.perf_counter())
    return ends

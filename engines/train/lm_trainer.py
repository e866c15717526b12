"""Causal language models on the training harness: a LoRA adapter (peft) on a frozen base
(`lora-text`), or every weight of the model (`causal-lm`: fine-tuning, or training a freshly
initialised small model from scratch).

The data is a folder of .txt, .md and .jsonl (engines/train/text_data.py), tokenised once with
the base model's own tokenizer into blocks of `block_size` tokens with a loss mask. A step is
the next-token cross-entropy over the masked tokens of the batch, as transformers' causal-LM
loss computes it; `gradient_accumulation` splits the batch into that many forward/backward
passes (less memory, the same update to rounding). Dropout draws from torch's RNG, which the
harness seeds and checkpoints, so stop + resume gives the bits an uninterrupted run gives.

Outputs (model/): `lora-text` a peft adapter folder (adapter_model.safetensors,
adapter_config.json) that the text engine applies through `loras`; `causal-lm` a whole
transformers folder (safetensors, config, tokenizer) that the text engine loads as a model.
Both carry model.json, which names the base and what the run did.
"""
from __future__ import annotations

import json
import math
import warnings
from contextlib import nullcontext
from pathlib import Path

import torch
import torch.nn.functional as F

from engines import devices, hf_folder
from engines.api import EngineError, ParamError
from engines.train import checkpoint, text_data

LORA_FORMAT, FULL_FORMAT = "lora-text", "causal-lm"
ADAPTER_FILE, ADAPTER_CONFIG = "adapter_model.safetensors", "adapter_config.json"


def check_base(base: str | Path) -> Path:
    """The base model's folder, or a clear error when it is not a causal language model."""
    path = Path(base).expanduser()
    if not (path / "config.json").is_file():
        raise EngineError(f"base {path} is not a transformers model folder (it has no config.json)")
    kinds = hf_folder.architectures(path)
    if not any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in kinds):
        raise EngineError(f"base {path.name} is not a causal language model (its config.json names "
                          f"{', '.join(kinds) or 'no architecture'}); text training takes GPT-2, Llama, Qwen ... "
                          "models that write text")
    return path


def context_length(base: Path) -> int | None:
    config = json.loads((base / "config.json").read_text())
    return next((config[k] for k in ("n_positions", "max_position_embeddings", "n_ctx") if config.get(k)), None)


class CausalLMTrainer:
    """`causal-lm`: every weight of the base model is trained."""

    lora = False

    @staticmethod
    def prepare(data_folder: Path, params: dict, out_folder: Path):
        """Token blocks of the folder, with the base's tokenizer (read again from the base on
        a resume, so nothing is saved beside the blocks)."""
        from transformers import AutoTokenizer

        base = check_base(params["base"])
        limit = context_length(base)
        if limit and params["block_size"] > limit:
            raise ParamError(f"block_size {params['block_size']} is longer than {base.name}'s context of "
                             f"{limit} tokens; choose at most {limit}")
        devices.quiet_libraries()
        try:
            tokenizer = AutoTokenizer.from_pretrained(base)
        except hf_folder.LOAD_ERRORS as exc:
            raise hf_folder.load_failed("tokenizer", base, exc) from exc
        if tokenizer.eos_token_id is None:
            raise EngineError(f"the tokenizer of {base.name} has no end-of-text token to separate documents with")
        return text_data.prepare(data_folder, params, tokenizer)

    def __init__(self, params: dict, device: str, generator: torch.Generator):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.params, self.device = params, device
        base = check_base(params["base"])
        if params["batch_size"] % params["gradient_accumulation"]:
            raise ParamError(f"batch_size {params['batch_size']} must be a multiple of gradient_accumulation "
                             f"{params['gradient_accumulation']} (the batch is split into that many passes)")
        devices.quiet_libraries()
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(base)
            model = AutoModelForCausalLM.from_pretrained(base, use_safetensors=True, dtype=torch.float32)
        except hf_folder.LOAD_ERRORS as exc:
            raise hf_folder.load_failed("language model", base, exc) from exc
        self.fingerprint = hf_folder.base_fingerprint(model.config)
        if self.lora:
            model = self._add_adapter(model, generator)
        self.model = model.to(device)
        self.model.train()
        self.trained = {name: p for name, p in self.model.named_parameters() if p.requires_grad}
        self.opt = torch.optim.AdamW(list(self.trained.values()), lr=params["lr"])
        self.updates = 0  # optimiser steps taken: the learning-rate schedule's clock
        # Mixed precision where the GPU computes bfloat16 natively (no loss scaling needed).
        self.autocast = (torch.autocast("cuda", dtype=torch.bfloat16)
                         if device.startswith("cuda") and devices.bf16_supported(device) else nullcontext())

    def _add_adapter(self, model, generator: torch.Generator):
        from peft import LoraConfig, get_peft_model

        p = self.params
        # "q_proj,v_proj" from the command line is one string: names are split at commas.
        targets = [t.strip() for item in p["target_modules"] or [] for t in item.split(",") if t.strip()]
        if targets == ["all-linear"]:
            targets = "all-linear"
        self.alpha = p["alpha"] if p["alpha"] is not None else p["rank"]
        config = LoraConfig(r=p["rank"], lora_alpha=self.alpha, lora_dropout=p["dropout"], task_type="CAUSAL_LM",
                            target_modules=targets or None)  # None: peft's choice for the architecture
        torch_seed = int(torch.randint(0, 2**62, (1,), generator=generator))
        with torch.random.fork_rng(devices=[]), warnings.catch_warnings():  # peft's init, seeded from the run
            torch.manual_seed(torch_seed)
            # GPT-2's Conv1D layers: peft sets fan_in_fan_out itself, and says so.
            warnings.filterwarnings("ignore", message=".*fan_in_fan_out.*")
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")
            try:
                return get_peft_model(model, config)
            except ValueError as exc:  # no such target modules, or none peft knows for this architecture
                first = (str(exc).strip().splitlines() or ["ValueError"])[0]
                raise ParamError(f"cannot put a LoRA on {type(model).__name__}: {first[:300]} "
                                 "(set target_modules, e.g. q_proj,v_proj, or all-linear)") from None

    # -- training -------------------------------------------------------------------------
    def _loss_sum(self, rows: torch.Tensor) -> tuple[torch.Tensor, int]:
        """The summed next-token loss over the masked tokens of some rows, and their count."""
        ids, mask = rows[:, 0].long().to(self.device), rows[:, 1].bool().to(self.device)
        # Position t predicts token t + 1: the labels move left (as transformers' loss does it),
        # not the logits, which would copy the largest tensor of the step.
        labels = torch.full_like(ids, -100)
        labels[:, :-1] = ids[:, 1:].masked_fill(~mask[:, 1:], -100)
        with self.autocast:
            logits = self.model(input_ids=ids).logits
        loss = F.cross_entropy(logits.float().view(-1, logits.shape[-1]), labels.view(-1), ignore_index=-100,
                               reduction="sum")
        return loss, int((labels != -100).sum())

    def _lr(self) -> float:
        """The learning rate of the next update: linear warm-up, then constant or cosine."""
        p, step = self.params, self.updates
        if p["warmup_steps"] and step < p["warmup_steps"]:
            return p["lr"] * (step + 1) / p["warmup_steps"]
        if p["lr_schedule"] == "cosine":
            span = max(1, p["steps"] - p["warmup_steps"])
            return p["lr"] * 0.5 * (1 + math.cos(math.pi * min(1.0, (step - p["warmup_steps"]) / span)))
        return p["lr"]

    def step(self, batch: torch.Tensor, generator: torch.Generator) -> dict:
        parts = batch.chunk(self.params["gradient_accumulation"])
        total = max(1, int(batch[:, 1, 1:].sum()))  # tokens learnt in the whole batch
        self.opt.zero_grad(set_to_none=True)
        summed = 0.0
        for part in parts:
            loss, _ = self._loss_sum(part)
            (loss / total).backward()
            summed += loss.item()
        if self.params["max_grad_norm"]:
            torch.nn.utils.clip_grad_norm_(list(self.trained.values()), self.params["max_grad_norm"])
        lr = self._lr()
        for group in self.opt.param_groups:
            group["lr"] = lr
        self.opt.step()
        self.updates += 1
        return {"loss": summed / total}

    @torch.no_grad()
    def evaluate(self, val: torch.Tensor, seed: int) -> dict:
        """Loss and perplexity over the held-out blocks (no dropout: the same figure each time
        for the same weights)."""
        self.model.eval()
        rows = val[:self.params["eval_samples"]]
        step = max(1, self.params["batch_size"] // self.params["gradient_accumulation"])
        summed, count = 0.0, 0
        for i in range(0, len(rows), step):
            loss, n = self._loss_sum(rows[i:i + step])
            summed, count = summed + loss.item(), count + n
        self.model.train()
        loss = summed / max(1, count)
        return {"val_loss": loss, "perplexity": math.exp(min(loss, 50.0))}

    # -- samples --------------------------------------------------------------------------
    def _prompts(self, folder: Path) -> list[str]:
        if self.params["sample_prompts"]:
            return list(self.params["sample_prompts"])
        try:  # the run's data report (harness layout: RUN/data/ beside RUN/samples/)
            report = json.loads((folder.parent / "data" / "report.json").read_text(encoding="utf-8"))
            prompts = report.get("sample_prompts") or []
        except (OSError, ValueError):
            prompts = []
        return prompts or [self.tokenizer.bos_token or ""]

    @torch.no_grad()
    def write_sample(self, folder: Path, step: int, seed: int) -> Path:
        """The sample prompts continued with fixed seeds (prompt i with seed + i), into
        samples/step-N.txt; torch's own RNG is left as it was, so samples never change training."""
        self.model.eval()
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        parts = []
        for i, prompt in enumerate(self._prompts(folder)):
            inputs = self._encode_prompt(prompt)
            with torch.random.fork_rng(devices=[]), self.autocast:
                torch.manual_seed(seed + i)
                out = self.model.generate(**inputs, do_sample=True, max_new_tokens=self.params["sample_tokens"],
                                          pad_token_id=pad)
            text = self.tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
            parts.append(f"### prompt {i + 1} (seed {seed + i})\n{prompt}\n### continued\n{text}\n")
        self.model.train()
        path = folder / f"step-{step:08d}.txt"
        tmp = folder / f".tmp-{path.name}"
        tmp.write_text("\n".join(parts), encoding="utf-8")
        tmp.replace(path)
        return path

    def _encode_prompt(self, prompt: str) -> dict:
        if getattr(self.tokenizer, "chat_template", None):
            inputs = self.tokenizer.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                                        return_tensors="pt", return_dict=True)
        else:
            inputs = self.tokenizer(prompt, return_tensors="pt")
            if inputs["input_ids"].shape[1] == 0:  # an empty prompt: start from the end-of-text token
                inputs = {"input_ids": torch.tensor([[self.tokenizer.eos_token_id]]),
                          "attention_mask": torch.ones(1, 1, dtype=torch.long)}
        return {k: v.to(self.device) for k, v in inputs.items()}

    # -- checkpoints and export -----------------------------------------------------------
    def state(self) -> tuple[dict, dict]:
        tensors, info = checkpoint.optimizer_state(self.opt, "opt")
        tensors.update({f"model.{k}": v.detach() for k, v in self.trained.items()})
        return tensors, {"opt": info, "updates": self.updates}

    def load_state(self, tensors: dict, info: dict) -> None:
        with torch.no_grad():
            for key, param in self.trained.items():
                param.copy_(tensors[f"model.{key}"])
        checkpoint.load_optimizer_state(self.opt, "opt", tensors, info["opt"])
        self.updates = info["updates"]

    def export(self, folder: Path, trained: dict) -> None:
        """A whole transformers folder: weights in safetensors, config, generation config and
        the tokenizer, loadable as it is by the text engine (and by transformers)."""
        self.model.save_pretrained(folder, safe_serialization=True)
        self.tokenizer.save_pretrained(folder)
        self._write_model_json(folder, {"format": FULL_FORMAT}, trained)

    def _write_model_json(self, folder: Path, own: dict, trained: dict) -> None:
        (folder / "model.json").write_text(json.dumps(
            {**own, "version": 1, "base": self.params["base"], "base_model": self.fingerprint,
             "block_size": self.params["block_size"], "trained": trained}, indent=1))


class LoraTextTrainer(CausalLMTrainer):
    """`lora-text`: a LoRA adapter on the frozen base model."""

    lora = True

    def export(self, folder: Path, trained: dict) -> None:
        """A peft adapter folder (adapter_model.safetensors + adapter_config.json)."""
        self.model.save_pretrained(folder, safe_serialization=True)
        (folder / "README.md").unlink(missing_ok=True)  # peft's empty model card template
        config = self.model.peft_config["default"]
        targets = sorted(config.target_modules) if isinstance(config.target_modules, (set, list)) else \
            config.target_modules
        self._write_model_json(folder, {"format": LORA_FORMAT, "rank": self.params["rank"], "alpha": self.alpha,
                                        "target_modules": targets, "files": {"adapter": ADAPTER_FILE}}, trained)

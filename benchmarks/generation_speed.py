"""Generation speed: characters per second of a character LSTM, one stream and many.

Times, interleaved in one run (each repeat runs every variant once; medians of
``--repeats`` after a warm-up), ``rnnkit.generate.sample_texts`` as ``rnnkit sample``
calls it (temperature 0.8, the draw included):
- the plain path: the model's own forward once per character (``fast=False``);
- a bare loop over ``torch._VF.lstm_cell`` (embedding, one call per layer, decoder, draw),
  the reference of the issue;
- the step decoder in float32 and under int8 dynamic quantization, one stream;
- the same with ``--streams`` streams at once (characters of all streams per second).

The matrix products of one many-stream step, timed alone at the same shapes, give the
ceiling that arithmetic puts on the many-stream rate here. ``sample_texts`` packs many int8
streams for the quantized engine it times as the fastest (``rnnkit.int8_engine``); a kernel
loop with each candidate engine, side by side, shows what the choice gains.

With ``--checkpoint`` the model is that run's (a trained one; speed does not depend on the
weights) and the int8 decoder's validation loss (packed for the default engine and for
oneDNN, which quantizes the activations to 8 bits instead of 7) is measured beside
float32's: the
stateful loss over the run's validation split (``--eval-tokens`` of it), in nats per
character. Without it, an untrained 2x512 LSTM of 84 characters (embedding 128).

    python benchmarks/generation_speed.py --checkpoint runs/shakespeare_char_512 --threads 1
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
from common import machine_line, print_table
from torch.nn import functional as F

from rnnkit.data.corpus import load_corpus
from rnnkit.generate import SamplingOptions, draw_tokens, sample_texts
from rnnkit.inference import load_language_model
from rnnkit.int8_engine import candidate_engines
from rnnkit.metrics.language import stateful_loss
from rnnkit.models.language_model import LanguageModel, ModelConfig
from rnnkit.step_decoder import StepDecoder, StepSequenceModel, quantize_step_decoder

TEMPERATURE = 0.8


class Characters:
    """A stand-in vocabulary of ``size`` symbols for an untrained model."""

    def __init__(self, size: int) -> None:
        self.size = size

    def encode(self, text: str, strict: bool = True) -> list[int]:
        return [ord(char) % self.size for char in text]

    def decode(self, ids) -> str:
        return "".join(chr(0x100 + index) for index in ids)

    def __len__(self) -> int:
        return self.size


def bare_lstm_loop(model: LanguageModel, length: int, seed: int) -> None:
    """The issue's reference: ``torch._VF.lstm_cell`` per layer, no checks, no wrappers."""
    rnn, generator = model.rnn, torch.Generator().manual_seed(seed)
    weights = [tuple(rnn.cell_weights(index, 0)[name] for name in
                     ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
               for index in range(rnn.num_layers)]
    state = [(torch.zeros(1, rnn.hidden_size), torch.zeros(1, rnn.hidden_size))
             for _ in weights]
    token = torch.zeros(1, dtype=torch.long)
    with torch.no_grad():
        for _ in range(length):
            x = F.embedding(token, model.embedding.weight)
            for index, layer_weights in enumerate(weights):
                state[index] = torch._VF.lstm_cell(x, state[index], *layer_weights)
                x = state[index][0]
            logits = F.linear(x, model.decoder.weight, model.decoder.bias)
            probabilities = torch.softmax(logits / TEMPERATURE, dim=-1)
            token = torch.multinomial(probabilities, 1, generator=generator).view(1)


def matmul_ceiling(model: LanguageModel, streams: int, repeats: int = 50) -> float:
    """Characters/s if a many-stream step cost only its matrix products (float32): per
    layer one product of ``[x, h]`` with ``[W_ih, W_hh]``, then the decoder."""
    shapes = [(cell["weight_ih"].shape, cell["weight_hh"].shape)
              for cell in (model.rnn.cell_weights(i, 0) for i in range(model.rnn.num_layers))]
    joined = [(torch.randn(streams, ih[1] + hh[1]), torch.randn(ih[1] + hh[1], ih[0]))
              for ih, hh in shapes]
    decoder = (torch.randn(streams, model.decoder.weight.shape[1]),
               model.decoder.weight.detach().T)

    def step() -> None:
        for x, weight in [*joined, decoder]:
            torch.mm(x, weight)

    for _ in range(5):
        step()
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    return streams * repeats / (time.perf_counter() - start)


def engine_rates(model: LanguageModel, streams: int, length: int, repeats: int,
                 seed: int) -> dict[str, float]:
    """Characters/s of ``streams`` int8 streams packed for each engine that
    ``rnnkit.int8_engine`` chooses between, side by side in one loop (buffered step and draw,
    ``length`` steps, medians of ``repeats`` after a warm-up; packing left out)."""
    step = StepDecoder.from_model(model)
    decoders = {engine: quantize_step_decoder(step, "int8", engine)
                for engine in candidate_engines(streams)}
    options = SamplingOptions(TEMPERATURE)
    times: dict[str, list[float]] = {engine: [] for engine in decoders}
    with torch.no_grad():
        for repeat in range(repeats + 1):
            for engine, decoder in decoders.items():
                state = decoder.repeat_state(model(torch.zeros(1, 1, dtype=torch.long))[1],
                                             streams)
                advance = decoder.buffered_step(state)
                generator = torch.Generator().manual_seed(seed)
                tokens = torch.zeros(streams, dtype=torch.long)
                start = time.perf_counter()
                for _ in range(length):
                    logits = advance(tokens)
                    tokens = draw_tokens(logits, options, generator)
                if repeat > 0:
                    times[engine].append(time.perf_counter() - start)
    return {engine: streams * length / statistics.median(values)
            for engine, values in times.items()}


def setup_milliseconds(model: LanguageModel, repeats: int) -> dict[str, float]:
    """Median time to build the float32 step decoder and to quantize it to int8, which
    every ``sample_texts`` call pays before its first character."""
    times: dict[str, list[float]] = {"fp32": [], "int8": []}
    for _ in range(repeats + 1):
        start = time.perf_counter()
        step = StepDecoder.from_model(model)
        built = time.perf_counter()
        quantize_step_decoder(step, "int8")
        times["fp32"].append(built - start)
        times["int8"].append(time.perf_counter() - start)
    return {name: 1e3 * statistics.median(values[1:]) for name, values in times.items()}


def validation_losses(checkpoint: str, eval_tokens: int) -> dict[str, float]:
    """Stateful validation loss (nats/char) of the plain model, the float32 step decoder
    and the int8 one, over the first ``eval_tokens`` of the run's validation split."""
    loaded = load_language_model(checkpoint, device="cpu")
    corpus = load_corpus(loaded.config.data, loaded.vocab.to_dict())
    ids = corpus.splits["valid"]
    ids = ids[:eval_tokens] if eval_tokens else ids
    batch, window = 64, loaded.config.train.eval_window
    step = StepDecoder.from_model(loaded.model)
    losses = {"tokens": int(ids.numel())}
    for name, model in (("model", loaded.model), ("fp32 step", StepSequenceModel(step)),
                        ("int8 step", StepSequenceModel(quantize_step_decoder(step, "int8"))),
                        ("int8 step (onednn)", StepSequenceModel(
                            quantize_step_decoder(step, "int8", "onednn")))):
        start = time.perf_counter()
        losses[name] = stateful_loss(model, ids, batch_size=batch, seq_len=window)
        print(f"validation loss, {name}: {losses[name]:.5f} nats/char "
              f"({time.perf_counter() - start:.0f} s)", flush=True)
    return losses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--length", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--streams", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--eval-tokens", type=int, default=0,
                        help="validation tokens for the int8 loss (0: the whole split)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.checkpoint:
        loaded = load_language_model(args.checkpoint, device="cpu")
        model, vocab, prime = loaded.model, loaded.vocab, "\n"
    else:
        torch.manual_seed(args.seed)
        model = LanguageModel(ModelConfig(vocab_size=84, embedding_size=128, hidden_size=512,
                                          num_layers=2)).eval()
        vocab, prime = Characters(84), "\0"
    print(machine_line())
    print(f"# model: {model.config.num_layers}x{model.config.hidden_size} "
          f"{model.config.cell}, vocabulary {model.config.vocab_size}, "
          f"{args.checkpoint or 'untrained'}; {args.length} characters, temperature "
          f"{TEMPERATURE}, seed {args.seed}", flush=True)

    def generation(streams: int, **options) -> callable:
        return lambda: sample_texts(model, vocab, prime, args.length, streams=streams,
                                    temperature=TEMPERATURE, seed=args.seed, **options)

    variants = {
        "plain path (the model's forward), 1 stream": (1, generation(1, fast=False)),
        "bare _VF.lstm_cell loop, 1 stream": (1, lambda: bare_lstm_loop(model, args.length,
                                                                         args.seed)),
        "step decoder fp32, 1 stream": (1, generation(1)),
        "step decoder int8, 1 stream": (1, generation(1, quantize="int8")),
        f"step decoder fp32, {args.streams} streams": (args.streams,
                                                        generation(args.streams)),
        f"step decoder int8, {args.streams} streams": (
            args.streams, generation(args.streams, quantize="int8")),
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    wall = time.perf_counter()
    for repeat in range(args.repeats + 1):
        for name, (_, run) in variants.items():
            start = time.perf_counter()
            run()
            if repeat > 0:
                times[name].append(time.perf_counter() - start)
        print(f"repeat {repeat}{' (warm-up)' if repeat == 0 else ''} done", flush=True)
    rates = {name: streams * args.length / statistics.median(times[name])
             for name, (streams, _) in variants.items()}
    ceiling = matmul_ceiling(model, args.streams)
    names = list(variants)
    fp32, int8, plain = rates[names[2]], rates[names[3]], rates[names[0]]
    print_table(["variant", "characters/s", "ratio"], [
        [names[0], f"{plain:,.0f}", "1.00 (reference)"],
        [names[1], f"{rates[names[1]]:,.0f}", f"{rates[names[1]] / plain:.2f} x plain"],
        [names[2], f"{fp32:,.0f}", f"{fp32 / plain:.2f} x plain"],
        [names[3], f"{int8:,.0f}", f"{int8 / fp32:.2f} x fp32"],
        [names[4], f"{rates[names[4]]:,.0f}", f"{rates[names[4]] / fp32:.1f} x fp32, 1 stream"],
        [names[5], f"{rates[names[5]]:,.0f}",
         f"{rates[names[5]] / int8:.1f} x int8, 1 stream; {rates[names[5]] / fp32:.1f} x fp32, "
         f"1 stream"],
        [f"matrix products alone, fp32, {args.streams} streams", f"{ceiling:,.0f}",
         f"{ceiling / fp32:.1f} x fp32, 1 stream (the arithmetic ceiling)"],
    ])
    engines = engine_rates(model, args.streams, min(args.length, 500), args.repeats, args.seed)
    print_table([f"int8, {args.streams} streams, kernel loop", "characters/s", "ratio"], [
        [engine, f"{rate:,.0f}", f"{rate / engines[torch.backends.quantized.engine]:.2f} x "
                                 f"{torch.backends.quantized.engine}"]
        for engine, rate in engines.items()])
    setup = setup_milliseconds(model, args.repeats)
    print(f"# building the step decoder: fp32 {setup['fp32']:.1f} ms, int8 (built and "
          f"quantized) {setup['int8']:.1f} ms; included in the rates above")
    print(f"# timing wall {time.perf_counter() - wall:.0f} s", flush=True)
    result = {"rates": {name: round(rate) for name, rate in rates.items()},
              "matmul_ceiling": round(ceiling),
              "setup_ms": {name: round(value, 2) for name, value in setup.items()},
              "int8_engines": {engine: round(rate) for engine, rate in engines.items()}}
    if args.checkpoint:
        result["validation"] = validation_losses(args.checkpoint, args.eval_tokens)
        difference = result["validation"]["int8 step"] - result["validation"]["fp32 step"]
        print(f"int8 - fp32 validation loss: {difference:+.5f} nats/char")
        difference = (result["validation"]["int8 step (onednn)"]
                      - result["validation"]["fp32 step"])
        print(f"int8 (onednn) - fp32 validation loss: {difference:+.5f} nats/char")
    print(json.dumps(result))


if __name__ == "__main__":
    main()

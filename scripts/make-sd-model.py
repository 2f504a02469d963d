#!/usr/bin/env python3
"""Writes a random-weight SDXS (512-DS) diffusion model as GGUF, for tests on the real sd.cpp.

    python3 scripts/make-sd-model.py <out.gguf>

No diffusion weights can be downloaded in the test environment, but stable-diffusion.cpp loads any
file whose tensor names and shapes match the architecture it detects from those names
(`get_sd_version()` in src/model.cpp). SDXS (512-DS) is the smallest it knows: a 768-wide
token embedding (CLIP-L), a UNet without `middle_block.1` and without `output_blocks.7.1`.

Parts, as built by the sd.cpp source vendored in stable-diffusion-cpp-python 0.4.7:
  - CLIP-L text encoder, 12 layers x 768 (`clip.hpp`; sd.cpp has the CLIP vocabulary built in)
  - the tiny SD1 UNet (`unet.hpp`, VERSION_SDXS_512_DS: channel mults 1,2,4, one res block per
    level, attention at ds 2 and 4 only, no middle block)
  - TAESD decoder and encoder (`tae.hpp`; sd-server also loads the encoder, for image edits)

Shapes below are in torch order ([out, in, kh, kw]); GGUF stores dimensions reversed, which is
the order ggml's `ne` (and sd.cpp's shape check) uses. Linear weights are Q4_0, conv weights F16
(sd.cpp's Conv2d always wants F16; their first ggml dimension, the kernel width, does not split
into 32-value blocks), norms 1, biases 0, the token embedding Q4_0 too (ggml_get_rows reads it). The values are random with a
fixed seed, so the file is the same on every run. The TAE decoder gets wider (He-scaled) random
convs and a 0.5 bias on its last conv, so that the PNG shows visible noise instead of a
near-black image.
"""
import sys
import time

import numpy as np
import gguf

SEED = 20261125
STD = 0.02
Q4_0 = gguf.GGMLQuantizationType.Q4_0


class Tensors:
    """The tensor list in file order: (name, torch shape, storage, init)."""

    def __init__(self):
        self.items = []

    def add(self, name, shape, storage, init):
        self.items.append((name, tuple(shape), storage, init))

    def linear(self, name, n_in, n_out, bias=True):
        self.add(name + ".weight", (n_out, n_in), "q4_0", ("normal", STD))
        if bias:
            self.add(name + ".bias", (n_out,), "f32", ("const", 0.0))

    def conv(self, name, n_in, n_out, k=3, bias=True, std=STD, bias_value=0.0):
        self.add(name + ".weight", (n_out, n_in, k, k), "f16", ("normal", std))
        if bias:
            self.add(name + ".bias", (n_out,), "f32", ("const", bias_value))

    def norm(self, name, n):
        self.add(name + ".weight", (n,), "f32", ("const", 1.0))
        self.add(name + ".bias", (n,), "f32", ("const", 0.0))


def clip_l(t, prefix="cond_stage_model.transformer.text_model."):
    d, ff = 768, 3072
    t.add(prefix + "embeddings.token_embedding.weight", (49408, d), "q4_0", ("normal", STD))
    t.add(prefix + "embeddings.position_embedding.weight", (77, d), "f32", ("normal", STD))
    for i in range(12):
        p = f"{prefix}encoder.layers.{i}."
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            t.linear(p + "self_attn." + proj, d, d)
        t.norm(p + "layer_norm1", d)
        t.norm(p + "layer_norm2", d)
        t.linear(p + "mlp.fc1", d, ff)
        t.linear(p + "mlp.fc2", ff, d)
    t.norm(prefix + "final_layer_norm", d)


def res_block(t, name, ch, emb, out):
    t.norm(name + ".in_layers.0", ch)
    t.conv(name + ".in_layers.2", ch, out)
    t.linear(name + ".emb_layers.1", emb, out)
    t.norm(name + ".out_layers.0", out)
    t.conv(name + ".out_layers.3", out, out)
    if out != ch:
        t.conv(name + ".skip_connection", ch, out, k=1)


def spatial_transformer(t, name, ch, context_dim=768, n_head=8):
    inner = ch  # n_head * (ch / n_head)
    t.norm(name + ".norm", ch)
    t.conv(name + ".proj_in", ch, inner, k=1)
    b = name + ".transformer_blocks.0."
    t.linear(b + "attn1.to_q", inner, inner, bias=False)
    t.linear(b + "attn1.to_k", inner, inner, bias=False)
    t.linear(b + "attn1.to_v", inner, inner, bias=False)
    t.linear(b + "attn1.to_out.0", inner, inner)
    t.linear(b + "attn2.to_q", inner, inner, bias=False)
    t.linear(b + "attn2.to_k", context_dim, inner, bias=False)
    t.linear(b + "attn2.to_v", context_dim, inner, bias=False)
    t.linear(b + "attn2.to_out.0", inner, inner)
    t.linear(b + "ff.net.0.proj", inner, inner * 4 * 2)  # GEGLU
    t.linear(b + "ff.net.2", inner * 4, inner)
    for n in ("norm1", "norm2", "norm3"):
        t.norm(b + n, inner)
    t.conv(name + ".proj_out", inner, ch, k=1)


def sdxs_unet(t, p="model.diffusion_model."):
    """UnetModelBlock's constructor for VERSION_SDXS_512_DS (tiny_unet), step by step."""
    mc, emb, mults, attn_ds = 320, 1280, (1, 2, 4), (4, 2)
    t.linear(p + "time_embed.0", mc, emb)
    t.linear(p + "time_embed.2", emb, emb)
    t.conv(p + "input_blocks.0.0", 4, mc)
    chans, ch, idx, ds = [mc], mc, 0, 1
    for i, mult in enumerate(mults):
        idx += 1
        res_block(t, f"{p}input_blocks.{idx}.0", ch, emb, mult * mc)
        ch = mult * mc
        if ds in attn_ds:
            spatial_transformer(t, f"{p}input_blocks.{idx}.1", ch)
        chans.append(ch)
        idx += 1  # tiny_unet skips an index after its one res block
        if i != len(mults) - 1:
            idx += 1
            t.conv(f"{p}input_blocks.{idx}.0.op", ch, ch)
            chans.append(ch)
            ds *= 2
    idx = 0
    for i in reversed(range(len(mults))):
        mult = mults[i]
        for j in range(2):  # num_res_blocks + 1
            ich = chans.pop()
            res_block(t, f"{p}output_blocks.{idx}.0", ch + ich, emb, mult * mc)
            ch = mult * mc
            up = 1
            if ds in attn_ds:
                spatial_transformer(t, f"{p}output_blocks.{idx}.1", ch)
                up += 1
            if i > 0 and j == 1:
                idx += 1
                if idx == 2:
                    up = 1
                t.conv(f"{p}output_blocks.{idx}.{up}.conv", ch, ch)
                ds //= 2
            idx += 1
    t.norm(p + "out.0", ch)
    t.conv(p + "out.2", mc, 4)


def tae_block(t, name, n, std):
    for k in (0, 2, 4):
        t.conv(f"{name}.conv.{k}", n, n, std=std)


def taesd(t, p="tae."):
    c = 64
    he = (2.0 / (c * 9)) ** 0.5  # keeps the decoder's activations from fading to black
    d = p + "decoder.layers."
    t.conv(d + "0", 4, c, std=he)
    for i in (2, 3, 4):
        tae_block(t, f"{d}{i}", c, he)
    for conv, blocks in ((6, (7, 8, 9)), (11, (12, 13, 14)), (16, (17,))):
        t.conv(f"{d}{conv}", c, c, bias=False, std=he)
        for i in blocks:
            tae_block(t, f"{d}{i}", c, he)
    t.conv(d + "18", c, 3, std=he, bias_value=0.5)
    e = p + "encoder.layers."
    t.conv(e + "0", 3, c)
    tae_block(t, e + "1", c, STD)
    for conv, blocks in ((2, (3, 4, 5)), (6, (7, 8, 9)), (10, (11, 12, 13))):
        t.conv(f"{e}{conv}", c, c, bias=False)
        for i in blocks:
            tae_block(t, f"{e}{i}", c, STD)
    t.conv(e + "14", c, 4)


def nbytes(shape, storage):
    n = int(np.prod(shape))
    if storage == "q4_0":
        return n // 32 * 18
    return n * (2 if storage == "f16" else 4)


def values(rng, shape, storage, init):
    kind, arg = init
    if kind == "const":
        data = np.full(shape, arg, dtype=np.float32)
    else:
        data = rng.standard_normal(shape, dtype=np.float32) * np.float32(arg)
    if storage == "q4_0":
        return gguf.quants.quantize(data, Q4_0)
    return data.astype(np.float16 if storage == "f16" else np.float32)


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    start = time.monotonic()
    t = Tensors()
    clip_l(t)
    sdxs_unet(t)
    taesd(t)

    writer = gguf.GGUFWriter(sys.argv[1], "sdxs-random")
    writer.add_name("random-weight SDXS (512-DS) for tests")
    for name, shape, storage, _ in t.items:
        if storage == "q4_0":
            writer.add_tensor_info(name, (shape[0], shape[1] // 32 * 18), np.dtype(np.uint8),
                                   nbytes(shape, storage), raw_dtype=Q4_0)
        else:
            dtype = np.dtype(np.float16 if storage == "f16" else np.float32)
            writer.add_tensor_info(name, shape, dtype, nbytes(shape, storage))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    # One tensor at a time, so memory stays at the size of the largest tensor.
    rng = np.random.default_rng(SEED)
    for name, shape, storage, init in t.items:
        writer.write_tensor_data(values(rng, shape, storage, init))
    writer.close()

    params = sum(int(np.prod(s)) for _, s, _, _ in t.items)
    size = sum(nbytes(s, st) for _, s, st, _ in t.items)
    print(f"{len(t.items)} tensors, {params / 1e6:.1f} M parameters, {size / 2**20:.1f} MiB of data,"
          f" {time.monotonic() - start:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

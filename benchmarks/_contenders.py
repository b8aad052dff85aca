"""What one benchmark child process measures: pokediff or diffusers.

Each function here runs in a fresh process (see `benchmark.py`) and returns
a dict of timings. Heavy imports happen inside the functions, so that the
process imports exactly one framework stack, after `KERAS_BACKEND` is set.
"""

import resource
import time

import numpy as np

# The types and the "no label" row of the class table.
NUM_CLASSES = 18
NULL_CLASS = NUM_CLASSES
LEARNING_RATE = 2e-4
# Keras' AdamW default, used for the torch optimizer too.
WEIGHT_DECAY = 0.004
GUIDANCE_SCALE = 3.0
LABEL_DROPOUT = 0.1


def rss_mb():
    """Peak resident set size of this process so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def random_data(count, image_size, seed=0):
    """Random uint8 images and `(count, 2)` type ids, half single-typed."""
    rng = np.random.default_rng(seed)
    images = rng.integers(
        0, 256, (count, image_size, image_size, 3), dtype=np.uint8
    )
    labels = rng.integers(0, NUM_CLASSES, (count, 2)).astype("int32")
    labels[rng.random(count) < 0.5, 1] = -1
    return images, labels


def step_summary(begin, ends, warmup_steps, batch_size):
    """Split per-step end times into first step, warm-up and steady state."""
    durations = np.diff([begin, *ends])
    steady = durations[warmup_steps:]
    return {
        "first_step_s": float(durations[0]),
        "warmup_s": float(np.sum(durations[:warmup_steps])),
        "steady_steps": len(steady),
        "steady_step_s": float(np.mean(steady)),
        "steady_step_s_min": float(np.min(steady)),
        "train_images_per_s": batch_size / float(np.mean(steady)),
    }


def diffusers_config(
    image_size,
    widths,
    num_res_blocks,
    attention_resolutions,
    num_heads,
    num_classes=NUM_CLASSES,
    groups=8,
    **unused,
):
    """`UNet2DModel` arguments for the architecture of a pokediff preset.

    Same levels, widths, residual blocks, attention placement and heads,
    scale-shift conditioning, strided-conv downsampling and nearest + conv
    upsampling; see `_unet_cost` for the few parameters that differ.
    """
    resolutions = [image_size // 2**level for level in range(len(widths))]
    attended = [
        width
        for width, size in zip(widths, resolutions, strict=True)
        if size in attention_resolutions
    ] + [widths[-1]]
    head_dims = {width // num_heads for width in attended}
    if len(head_dims) != 1:
        raise ValueError(
            "diffusers' `UNet2DModel` takes one `attention_head_dim`; "
            f"`num_heads={num_heads}` over the attended widths {attended} "
            f"gives several: {sorted(head_dims)}"
        )
    down = [
        "AttnDownBlock2D" if size in attention_resolutions else "DownBlock2D"
        for size in resolutions
    ]
    up = [name.replace("Down", "Up") for name in reversed(down)]
    return {
        "sample_size": image_size,
        "in_channels": 3,
        "out_channels": 3,
        "block_out_channels": tuple(widths),
        "layers_per_block": num_res_blocks,
        "down_block_types": tuple(down),
        "up_block_types": tuple(up),
        "attention_head_dim": head_dims.pop(),
        "norm_num_groups": groups,
        "attn_norm_num_groups": groups,
        "resnet_time_scale_shift": "scale_shift",
        "num_class_embeds": num_classes + 1,
    }


def run_pokediff(
    config,
    size,
    batch_size,
    train_steps,
    warmup_steps,
    sample_batches,
    sample_steps,
):
    """Train and sample a `PokemonDiffusion` preset on the Keras backend."""
    started = time.perf_counter()
    import keras

    from pokediff import PokemonDiffusion

    backend = keras.backend.backend()
    result = {"keras_backend": backend, "keras_version": keras.__version__}
    result["import_s"] = time.perf_counter() - started
    result["rss_after_import_mb"] = rss_mb()

    start = time.perf_counter()
    model = PokemonDiffusion.from_preset(size, seed=0)
    model.compile(optimizer=keras.optimizers.AdamW(LEARNING_RATE))
    result["build_s"] = time.perf_counter() - start
    result["params"] = int(model.count_params())
    result["jit_compile"] = str(model.jit_compile)
    images, labels = random_data(train_steps * batch_size, config["image_size"])

    class StepTimer(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.begin = time.perf_counter()
            self.ends = []

        def on_train_batch_end(self, batch, logs=None):
            # Reading the loss waits for the step (JAX and TensorFlow
            # dispatch asynchronously).
            float(keras.ops.convert_to_numpy(logs["loss"]))
            self.ends.append(time.perf_counter())
            if len(self.ends) == 1:
                self.first_step_end_wall = time.time()

    timer = StepTimer()
    model.fit(
        images,
        labels,
        batch_size=batch_size,
        epochs=1,
        steps_per_epoch=train_steps,
        shuffle=False,
        verbose=0,
        callbacks=[timer],
    )
    result["first_step_end_wall"] = timer.first_step_end_wall
    result.update(
        step_summary(timer.begin, timer.ends, warmup_steps, batch_size)
    )
    result["rss_after_train_mb"] = rss_mb()

    # Sampling. The loop bound is a tensor on JAX and TensorFlow, so a
    # one-step call compiles the very function the 50-step call runs.
    sample_labels = labels[:batch_size]
    start = time.perf_counter()
    model.generate(
        sample_labels,
        num_steps=1,
        guidance_scale=GUIDANCE_SCALE,
        batch_size=batch_size,
        seed=0,
    )
    result["sample_warmup_s"] = time.perf_counter() - start
    all_labels = np.concatenate([sample_labels] * sample_batches)
    start = time.perf_counter()
    model.generate(
        all_labels,
        num_steps=sample_steps,
        guidance_scale=GUIDANCE_SCALE,
        batch_size=batch_size,
        seed=1,
    )
    elapsed = time.perf_counter() - start
    result["sample_s"] = elapsed
    result["sample_images_per_s"] = len(all_labels) / elapsed
    result["rss_after_sample_mb"] = rss_mb()

    if backend == "torch":
        import torch

        result["torch_threads"] = torch.get_num_threads()
        result["measured_forward_flops"] = _torch_flops(
            lambda x, t, y: model.denoiser([x, t, y], training=False),
            torch.zeros(1, config["image_size"], config["image_size"], 3),
            torch.zeros(1),
            torch.tensor([[0, 1]], dtype=torch.int32),
        )
    return result


def _torch_flops(fn, *args):
    """FLOPs of one call as counted by `torch.utils.flop_counter`."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        fn(*args)
    return int(counter.get_total_flops())


def run_diffusers(
    config,
    size,
    batch_size,
    train_steps,
    warmup_steps,
    sample_batches,
    sample_steps,
):
    """Train and sample the matching `diffusers.UNet2DModel` in PyTorch."""
    started = time.perf_counter()
    import diffusers
    import torch

    result = {
        "diffusers_version": diffusers.__version__,
        "torch_version": torch.__version__,
        "torch_threads": torch.get_num_threads(),
    }
    result["import_s"] = time.perf_counter() - started
    result["rss_after_import_mb"] = rss_mb()

    start = time.perf_counter()
    torch.manual_seed(0)
    unet_config = diffusers_config(**config)
    result["unet_config"] = {
        key: list(value) if isinstance(value, tuple) else value
        for key, value in unet_config.items()
    }
    model = diffusers.UNet2DModel(**unet_config)
    result["params"] = sum(p.numel() for p in model.parameters())
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY
    )
    result["build_s"] = time.perf_counter() - start
    # pokediff's defaults: cosine schedule, v-prediction.
    scheduler = diffusers.DDPMScheduler(
        num_train_timesteps=1000,
        beta_schedule="squaredcos_cap_v2",
        prediction_type="v_prediction",
    )
    images, labels = random_data(train_steps * batch_size, config["image_size"])

    # Training: the same objective as `PokemonDiffusion.call`.
    model.train()
    begin = time.perf_counter()
    ends = []
    for step in range(train_steps):
        chunk = slice(step * batch_size, (step + 1) * batch_size)
        x_0 = torch.from_numpy(images[chunk]).permute(0, 3, 1, 2)
        x_0 = x_0.float() / 127.5 - 1.0
        # diffusers' class embedding takes one label per image.
        classes = torch.from_numpy(labels[chunk, 0]).long()
        drop = torch.rand(batch_size) < LABEL_DROPOUT
        classes = torch.where(drop, NULL_CLASS, classes)
        t = torch.randint(0, 1000, (batch_size,))
        noise = torch.randn_like(x_0)
        x_t = scheduler.add_noise(x_0, noise, t)
        target = scheduler.get_velocity(x_0, noise, t)
        prediction = model(x_t, t, class_labels=classes).sample
        loss = torch.nn.functional.mse_loss(prediction, target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss.item()
        ends.append(time.perf_counter())
        if step == 0:
            result["first_step_end_wall"] = time.time()
    result.update(step_summary(begin, ends, warmup_steps, batch_size))
    result["rss_after_train_mb"] = rss_mb()

    # Sampling: DDIM, guided, conditional and unconditional halves batched
    # together as pokediff does.
    model.eval()
    sampler = diffusers.DDIMScheduler.from_config(
        scheduler.config, timestep_spacing="trailing"
    )
    sample_classes = torch.from_numpy(labels[:batch_size, 0]).long()
    guided_classes = torch.cat(
        [sample_classes, torch.full_like(sample_classes, NULL_CLASS)]
    )

    def sample(num_steps, seed):
        generator = torch.Generator().manual_seed(seed)
        shape = (batch_size, 3, config["image_size"], config["image_size"])
        x = torch.randn(shape, generator=generator)
        sampler.set_timesteps(num_steps)
        with torch.no_grad():
            for t in sampler.timesteps:
                output = model(
                    torch.cat([x, x]), t, class_labels=guided_classes
                ).sample
                conditional, unconditional = output.chunk(2)
                guided = unconditional + GUIDANCE_SCALE * (
                    conditional - unconditional
                )
                x = sampler.step(guided, t, x).prev_sample
        pixels = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        return pixels.permute(0, 2, 3, 1).numpy()

    start = time.perf_counter()
    sample(1, seed=0)
    result["sample_warmup_s"] = time.perf_counter() - start
    start = time.perf_counter()
    for index in range(sample_batches):
        sample(sample_steps, seed=1 + index)
    elapsed = time.perf_counter() - start
    result["sample_s"] = elapsed
    result["sample_images_per_s"] = sample_batches * batch_size / elapsed
    result["rss_after_sample_mb"] = rss_mb()

    size_ = config["image_size"]
    result["measured_forward_flops"] = _torch_flops(
        lambda x, t, y: model(x, t, class_labels=y),
        torch.zeros(1, 3, size_, size_),
        torch.tensor([10]),
        torch.tensor([0]),
    )
    return result


def run_matmul_peak(seconds=1.5, size=2048):
    """Best float32 matmul rate of NumPy and of PyTorch, in FLOP/s."""
    import torch

    rates = {}
    a = np.random.default_rng(0).random((size, size), dtype=np.float32)
    for name, operand in (("numpy", a), ("torch", torch.from_numpy(a))):
        operand @ operand
        count = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            operand @ operand
            count += 1
        elapsed = time.perf_counter() - start
        rates[name] = count * 2 * size**3 / elapsed
    rates["peak"] = max(rates.values())
    rates["matrix_size"] = size
    rates["torch_threads"] = torch.get_num_threads()
    return rates


CONTENDERS = {"pokediff": run_pokediff, "diffusers": run_diffusers}

"""Trainer of StarGAN (`trainer = "stargan"`): multi-domain image-to-image
translation with one generator conditioned on the target domain and a
discriminator with a domain-classification head, as the reference trains it
(yunjey/stargan, solver.py: Solver.train).

Labels. Attribute sources (CelebA's selected attributes, stroke_digits)
give each image a 0/1 vector over config.data.attributes: G's condition c is
that vector and D's classification loss the reference's binary cross-entropy,
summed over attributes and averaged over images. Domain sources (RaFD-style
folders) give a domain index: c is its one-hot vector over c_dim domains and
the loss the softmax cross-entropy, averaged.

A training step is the reference's n_critic iterations (optim.n_critic, 5),
each on its own batch (the loop stacks them: batches_per_step = n_critic).
Iteration j, on images x with labels l:
1. targets: l_trg = l[randperm(N)] (the batch's own labels shuffled), c_org
   and c_trg the conditions of l and l_trg;
2. D update: d_loss = -mean(D_src(x)) + mean(D_src(G(x, c_trg))) +
   lambda_cls * cls(D_cls(x), l) + lambda_gp * mean((|grad_x^ D_src(x^)|_2 -
   1)^2), with x^ = a x + (1 - a) G(x, c_trg), a ~ U(0, 1) per image, the
   gradient of the sum of D's patch outputs taken per image over all its
   pixels and channels (the reference's gradient_penalty), G's output
   detached throughout;
3. after the last iteration only, the G update, on that iteration's batch
   and targets with D as just updated: g_loss = -mean(D_src(x_f)) +
   lambda_rec * mean|x - G(x_f, c_org)| + lambda_cls * cls(D_cls(x_f),
   l_trg), x_f = G(x, c_trg).
The permutations and a are drawn from the step's key (jaxgan.state.step_key),
so a resumed run draws what an uninterrupted one would. The networks have no
running statistics (instance norms normalise each image by its own; D has no
norm), so G and D are the same functions in training and in translation.

Learning rates per iteration as the reference schedules them
(jaxgan/configs/stargan.py: 'linear', 'reference', 'none'), the G update at
the rate of its iteration. Adam (b1, b2, eps as torch's) per network.

Metrics by the reference's names with '/' as '_': D_loss_real,
D_loss_fake, D_loss_cls, D_loss_gp (means over the step's n_critic
iterations), G_loss_fake, G_loss_rec, G_loss_cls, and g_lr, d_lr.

Translations: `translate(g, images, c)`. The grid and evaluation translate
held-out images to the reference's test targets (`target_labels`, its
create_labels): for attribute i in turn, the image's own labels with i set
to 1 and the other attributes of its exclusive group (config.data.exclusive,
CelebA's hair colours) set to 0 when i is in the group, else with i flipped;
for domains, every domain in turn. Sample grids: one row per held-out image,
the image then its c_dim translations. Evaluation (config.eval, first
num_samples held-out images of eval.split): `rec_l1` = mean |G(G(x, c_trg),
c_org) - x| over the targets, `d_cls_accuracy` = the share of the targets'
attributes (domains) that D's classifier gives the translations, and for
stroke_digits, whose true translations are known, `l1` = mean |G(x, c_trg) -
T_trg(x)| (picks best/, lower is better), all in [-1, 1] pixel units.
"""

from __future__ import annotations

import logging
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxgan.configs.stargan import LR_DECAYS
from jaxgan.models import stargan as networks
from jaxgan.state import count_params, step_key
from jaxgan.trainers import TranslationSampleFlags, check_sample_format, write_image_samples
from jaxgan.trainers.pix2pix import Pix2PixState, adam_update
from jaxgan.trainers.protocol import BestMetric, Phase

Array = jax.Array
D_LOSSES = ("D_loss_real", "D_loss_fake", "D_loss_cls", "D_loss_gp")
G_LOSSES = ("G_loss_fake", "G_loss_rec", "G_loss_cls")
ATTRIBUTE_SOURCES_WITH_TRUTH = ("stroke_digits",)


# {step, rng} (the loop's), G and D as flax variable dicts ({'params'}) and
# their Adam states: pix2pix's state, whose fields these are.
StarGANState = Pix2PixState


def lr_at(lr: float, optim: Any, num_iters: int, iteration: Array) -> Array:
    """The rate of the update of `iteration` (0-based, in D updates) by
    optim.lr_decay (jaxgan/configs/stargan.py): k = the decays after
    iterations 1..iteration (1-based i with i % lr_update_step == 0 and
    i > num_iters - num_iters_decay)."""
    it = jnp.asarray(iteration, jnp.int32)
    start = max(num_iters - int(optim.num_iters_decay), 0)
    u = int(optim.lr_update_step)
    k = jnp.maximum(it // u - start // u, 0).astype(jnp.float32)
    if optim.lr_decay == "linear":
        return lr * (1.0 - k * u / optim.num_iters_decay)
    if optim.lr_decay == "reference":
        return lr * (1.0 - k / optim.num_iters_decay)
    return jnp.asarray(lr, jnp.float32)


def classification_loss(logits: Array, labels: Array, kind: str) -> Array:
    """The reference's classification_loss: attributes (float 0/1 [N, c]):
    BCE with logits summed and divided by N; domains (int [N]): mean softmax
    cross-entropy."""
    logits = logits.astype(jnp.float32)
    if kind == "attributes":
        return jnp.sum(optax.sigmoid_binary_cross_entropy(logits, labels.astype(jnp.float32))) / logits.shape[0]
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, labels))


def create_labels(labels: np.ndarray | Array, kind: str, c_dim: int, exclusive: tuple[int, ...] = ()) -> list:
    """The reference's create_labels as label arrays of the source's kind:
    one target per attribute (domain) i, for every image (module
    docstring). `exclusive`: indices of mutually exclusive attributes."""
    xp = jnp if isinstance(labels, jax.Array) else np
    if kind == "domains":
        return [xp.full((labels.shape[0],), i, xp.int32) for i in range(c_dim)]
    targets = []
    for i in range(c_dim):
        t = labels.astype(xp.float32)
        if i in exclusive:
            col = xp.asarray([1.0 if j == i else 0.0 for j in range(c_dim)], xp.float32)
            keep = xp.asarray([0.0 if j in exclusive else 1.0 for j in range(c_dim)], xp.float32)
            t = t * keep + col
        else:
            flip = xp.asarray([1.0 if j == i else 0.0 for j in range(c_dim)], xp.float32)
            t = t + flip * (1.0 - 2.0 * t)
        targets.append(t)
    return targets


class StarGANTrainer(TranslationSampleFlags):
    """See the module docstring; the protocol is jaxgan/trainers/protocol.py
    (--mode sample's flags: TranslationSampleFlags)."""

    grid_name = "translations"
    grid_text = None  # the grid is images
    best_metric: BestMetric | None = BestMetric("l1", higher_is_better=False)

    def __init__(self, config: Any, mesh: Any = None):
        self.config = config
        m, d, loss, o = config.model, config.data, config.loss, config.optim
        if m.arch != "stargan":
            raise ValueError(f"config.model.arch must be 'stargan' for the stargan trainer, got {m.arch!r}")
        if config.dtype not in ("float32", "bfloat16"):
            raise ValueError(f"config.dtype must be 'float32' or 'bfloat16' (the networks' compute dtype; "
                             f"parameters stay float32), got {config.dtype!r}")
        for name in ("lambda_cls", "lambda_rec", "lambda_gp"):
            if loss[name] < 0:
                raise ValueError(f"config.loss.{name} must be >= 0, got {loss[name]}")
        if o.n_critic < 1:
            raise ValueError(f"config.optim.n_critic must be >= 1, got {o.n_critic}")
        if o.lr_decay not in LR_DECAYS:
            raise ValueError(f"config.optim.lr_decay must be one of {LR_DECAYS}, got {o.lr_decay!r}")
        if o.lr_decay != "none" and (o.num_iters_decay < 1 or o.lr_update_step < 1):
            raise ValueError(f"config.optim.num_iters_decay and lr_update_step must be >= 1, got "
                             f"{o.num_iters_decay} and {o.lr_update_step}")
        attributes, domains = list(d.get("attributes") or []), list(d.get("domains") or [])
        self.label_kind = "domains" if d.source == "domain_folders" or domains else "attributes"
        self.names = tuple(domains if self.label_kind == "domains" else attributes)
        self.c_dim = int(m.c_dim) or len(self.names)
        if self.c_dim < 1:
            raise ValueError("config.data.attributes (or data.domains, or model.c_dim) must name the domains: "
                             "StarGAN needs at least one")
        if self.names and len(self.names) != self.c_dim:
            raise ValueError(f"config.model.c_dim is {self.c_dim} but config.data.{self.label_kind} names "
                             f"{len(self.names)}: {list(self.names)}")
        exclusive = list(d.get("exclusive") or [])
        self.exclusive = tuple(i for i, name in enumerate(self.names) if name in exclusive
                               ) if self.label_kind == "attributes" else ()
        size = int(d.image_size)
        self.image_shape = (size, size, int(d.channels))
        dtype = jnp.dtype(config.dtype)
        self.G = networks.Generator(c_dim=self.c_dim, channels=self.image_shape[-1], dtype=dtype, **m.g)
        self.D = networks.Discriminator(image_size=size, c_dim=self.c_dim, dtype=dtype, **m.d)
        self.tx = optax.scale_by_adam(b1=o.b1, b2=o.b2, eps=o.eps)
        self.num_iters = int(config.train.num_steps) * int(o.n_critic)
        self.has_truth = d.source in ATTRIBUTE_SOURCES_WITH_TRUTH
        self.best_metric = type(self).best_metric if self.has_truth else None
        self.grid_columns = 1 + self.c_dim
        self._held_out = None

    # ------------------------------------------------------------ protocol
    def phases(self) -> list[Phase]:
        return [Phase("stargan", self.config.train.num_steps, self.train_step, ("image", "label"),
                      batches_per_step=int(self.config.optim.n_critic))]

    def check_data(self, data: Any) -> None:
        if tuple(data.image_shape) != self.image_shape:
            raise ValueError(f"config.data gives images {tuple(data.image_shape)}, the model is built for "
                             f"{self.image_shape} (data.image_size, channels)")
        kind = getattr(data, "label_kind", None)
        names = tuple(getattr(data, "attribute_names", ()) or ())
        if kind != self.label_kind:
            raise ValueError(f"config.data.source {self.config.data.source!r} gives labels of kind {kind!r}; the "
                             f"stargan trainer expects {self.label_kind} (data.attributes or data.domains)")
        if len(names) != self.c_dim or (self.names and names != self.names):
            raise ValueError(f"config.data gives the {kind} {list(names)}, the model is built for "
                             f"{list(self.names) or self.c_dim} (data.{kind}, model.c_dim)")

    def param_counts(self, state: StarGANState) -> dict[str, int]:
        return {"g": count_params(state.g["params"]), "d": count_params(state.d["params"])}

    def init_state(self, key: Array) -> StarGANState:
        kg, kd, kr = jax.random.split(key, 3)
        x = jnp.zeros((1, *self.image_shape))
        g = dict(self.G.init(kg, x, jnp.zeros((1, self.c_dim))))
        d = dict(self.D.init(kd, x))
        return StarGANState(step=jnp.zeros((), jnp.int32), rng=jax.random.key_data(kr), g=g, d=d,
                            g_opt=self.tx.init(g["params"]), d_opt=self.tx.init(d["params"]))

    # ---------------------------------------------------------------- step
    def conditioning(self, labels: Array) -> Array:
        """G's condition c [N, c_dim] float32 of a batch's labels."""
        if self.label_kind == "domains":
            return jax.nn.one_hot(labels, self.c_dim, dtype=jnp.float32)
        return labels.astype(jnp.float32)

    def learning_rates(self, iteration: Array) -> tuple[Array, Array]:
        """(g_lr, d_lr) of the update at `iteration` (0-based, in D updates)."""
        o = self.config.optim
        return lr_at(o.g_lr, o, self.num_iters, iteration), lr_at(o.d_lr, o, self.num_iters, iteration)

    def iteration_draws(self, key: Array, j: int | Array, n: int) -> tuple[Array, Array]:
        """(permutation of the batch giving the targets, the penalty's a
        [n, 1, 1, 1]) of the step's iteration j."""
        k = jax.random.fold_in(key, j)
        perm = jax.random.permutation(jax.random.fold_in(k, 0), n)
        alpha = jax.random.uniform(jax.random.fold_in(k, 1), (n, 1, 1, 1), jnp.float32)
        return perm, alpha

    def _d_src_cls(self, d_params, x):
        out_src, out_cls = self.D.apply({"params": d_params}, x)
        return out_src.astype(jnp.float32), out_cls

    def d_losses(self, d_params, g_params, x_real, labels, perm, alpha) -> tuple[Array, dict[str, Array]]:
        """(d_loss, its terms) of one iteration (module docstring, step 2)."""
        loss, kind = self.config.loss, self.label_kind
        c_trg = self.conditioning(labels[perm])
        x_fake = jax.lax.stop_gradient(self.translate({"params": g_params}, x_real, c_trg))
        out_src, out_cls = self._d_src_cls(d_params, x_real)
        terms = {"D_loss_real": -jnp.mean(out_src), "D_loss_cls": classification_loss(out_cls, labels, kind)}
        out_src, _ = self._d_src_cls(d_params, x_fake)
        terms["D_loss_fake"] = jnp.mean(out_src)
        x_hat = alpha * x_real.astype(jnp.float32) + (1.0 - alpha) * x_fake
        grad = jax.grad(lambda xh: jnp.sum(self._d_src_cls(d_params, xh)[0]))(x_hat)
        norm = jnp.sqrt(jnp.sum(jnp.square(grad.reshape(grad.shape[0], -1)), axis=1))
        terms["D_loss_gp"] = jnp.mean(jnp.square(norm - 1.0))
        total = (terms["D_loss_real"] + terms["D_loss_fake"] + loss.lambda_cls * terms["D_loss_cls"]
                 + loss.lambda_gp * terms["D_loss_gp"])
        return total, terms

    def g_losses(self, g_params, d_params, x_real, labels, perm) -> tuple[Array, dict[str, Array]]:
        """(g_loss, its terms) (module docstring, step 3)."""
        loss = self.config.loss
        c_org, c_trg = self.conditioning(labels), self.conditioning(labels[perm])
        x_fake = self.translate({"params": g_params}, x_real, c_trg)
        out_src, out_cls = self._d_src_cls(d_params, x_fake)
        x_rec = self.translate({"params": g_params}, x_fake, c_org)
        terms = {"G_loss_fake": -jnp.mean(out_src),
                 "G_loss_rec": jnp.mean(jnp.abs(x_real.astype(jnp.float32) - x_rec)),
                 "G_loss_cls": classification_loss(out_cls, labels[perm], self.label_kind)}
        total = terms["G_loss_fake"] + loss.lambda_rec * terms["G_loss_rec"] + loss.lambda_cls * terms["G_loss_cls"]
        return total, terms

    def train_step(self, state: StarGANState, batch: dict[str, Array]) -> tuple[StarGANState, dict[str, Array]]:
        """batch: {'image': [n_critic, B, H, W, C], 'label': [n_critic, B(, c_dim)]}."""
        n_critic = batch["image"].shape[0]
        n = batch["image"].shape[1]
        key = step_key(state)
        first = state.step * n_critic
        g_params = state.g["params"]

        def d_iteration(carry, xs):
            d_params, d_opt = carry
            x, labels, j = xs
            perm, alpha = self.iteration_draws(key, j, n)
            grads, terms = jax.grad(self.d_losses, has_aux=True)(d_params, g_params, x, labels, perm, alpha)
            _, d_lr = self.learning_rates(first + j)
            d_params, d_opt = adam_update(self.tx, d_params, d_opt, grads, d_lr)
            return (d_params, d_opt), terms

        (d_params, d_opt), d_terms = jax.lax.scan(
            d_iteration, (state.d["params"], state.d_opt), (batch["image"], batch["label"], jnp.arange(n_critic)))
        last = n_critic - 1
        perm, _ = self.iteration_draws(key, last, n)
        g_grads, g_terms = jax.grad(self.g_losses, has_aux=True)(g_params, d_params, batch["image"][last],
                                                                 batch["label"][last], perm)
        g_lr, d_lr = self.learning_rates(first + last)
        g_params, g_opt = adam_update(self.tx, g_params, state.g_opt, g_grads, g_lr)
        state = state.replace(step=state.step + 1, g={"params": g_params}, d={"params": d_params}, g_opt=g_opt,
                              d_opt=d_opt)
        metrics = {name: jnp.mean(v) for name, v in d_terms.items()}
        metrics.update(g_terms, g_lr=g_lr, d_lr=d_lr)
        return state, metrics

    # ------------------------------------------------------------ translate
    def translate(self, g: Any, images: Array, c: Array) -> Array:
        """G's translations (float32) of `images` [N, H, W, C] in [-1, 1] to
        the conditions c [N, c_dim] (float: attribute values or one-hot
        domains; `conditioning` makes them from labels)."""
        return self.G.apply(g, images, c).astype(jnp.float32)

    def target_labels(self, labels: Any) -> list:
        """The reference's create_labels of a batch's labels: c_dim target
        label arrays (module docstring)."""
        return create_labels(labels, self.label_kind, self.c_dim, self.exclusive)

    def held_out(self, num: int | None, split: str | None = None) -> dict[str, np.ndarray]:
        """{'image', 'label'[, 'digit']} of the first `num` held-out images of
        `split` (default config.eval.split; config.data.split when that split
        does not exist); 'digit' (stroke_digits) renders the true translations."""
        try:
            return self._held_out_arrays(split or self.config.eval.split, num)
        except FileNotFoundError as e:
            if split is not None:
                raise
            logging.warning("%s; the sample grids show training images (config.data.split)", e)
            return self._held_out_arrays(self.config.data.split, num)

    def _held_out_arrays(self, split: str, num: int | None) -> dict[str, np.ndarray]:
        import importlib

        from jaxgan.data import build_input, with_defaults

        source = self.config.data.source
        if source == "synthetic":  # smoke runs: noise from the stream itself, drawn from another seed
            data = with_defaults(self.config.data, split=split)
            return dict(next(iter(build_input(data, batch_size=num or 16, seed=self.config.seed + 1))))
        module = importlib.import_module(f"jaxgan.data.{source}")
        return dict(module.held_out(with_defaults(self.config.data), split, num))

    def truths(self, arrays: dict[str, np.ndarray], targets: list) -> list[np.ndarray] | None:
        """The true translations of held-out `arrays` to each target labels
        array (sources with `has_truth`), else None."""
        if not self.has_truth:
            return None
        from jaxgan.data import stroke_digits

        channels = self.image_shape[-1]
        return [np.asarray(stroke_digits.render(arrays["digit"], np.asarray(t), channels)) for t in targets]

    def grid_inputs(self, key: Array, num: int) -> dict[str, Array]:
        del key  # the grid shows held-out images, not random draws
        arrays = self.held_out(num)
        return {"image": jnp.asarray(arrays["image"]), "label": jnp.asarray(arrays["label"])}

    def sample_grid(self, state: StarGANState, inputs: dict[str, Array]) -> Array:
        """[(1 + c_dim) N, H, W, C]: each held-out image, then its
        translations to the reference's test targets."""
        x = inputs["image"].astype(jnp.float32)
        outs = [x] + [self.translate(state.g, x, self.conditioning(t)) for t in self.target_labels(inputs["label"])]
        rows = jnp.stack(outs, axis=1)
        return jnp.clip(rows.reshape(-1, *rows.shape[2:]), -1.0, 1.0)

    def translations(self, state: StarGANState, x: Array, labels: Array) -> dict[str, Array]:
        """Per target of `target_labels`: translations [T, N, ...], their
        reconstructions, and D's class logits of the translations."""
        fakes, recs, logits = [], [], []
        c_org = self.conditioning(labels)
        for t in self.target_labels(labels):
            fake = self.translate(state.g, x, self.conditioning(t))
            fakes.append(fake)
            recs.append(self.translate(state.g, fake, c_org))
            logits.append(self._d_src_cls(state.d["params"], fake)[1].astype(jnp.float32))
        return {"fake": jnp.stack(fakes), "rec": jnp.stack(recs), "cls": jnp.stack(logits)}

    def evaluator(self, workdir: str, mesh: Any):
        """state -> {'rec_l1', 'd_cls_accuracy'(, 'l1')} over the first
        eval.num_samples held-out images of eval.split (module docstring)."""
        run = jax.jit(self.translations)
        batch = int(self.config.eval.batch_size)

        def evaluate(state: StarGANState) -> dict[str, float]:
            if self._held_out is None:
                self._held_out = self.held_out(self.config.eval.num_samples)
            arrays = self._held_out
            x, labels = arrays["image"], arrays["label"]
            targets = [np.asarray(t) for t in self.target_labels(np.asarray(labels))]
            truths = self.truths(arrays, targets)
            sums = {"rec_l1": 0.0, "d_cls_accuracy": 0.0, "l1": 0.0}
            for i in range(0, len(x), batch):
                out = {k: np.asarray(v) for k, v in run(state, x[i:i + batch], labels[i:i + batch]).items()}
                xi = x[i:i + batch]
                sums["rec_l1"] += float(np.abs(out["rec"] - xi[None]).sum(dtype=np.float64))
                for t, target in enumerate(targets):
                    tb = target[i:i + batch]
                    if self.label_kind == "domains":
                        sums["d_cls_accuracy"] += float((out["cls"][t].argmax(-1) == tb).sum())
                    else:
                        sums["d_cls_accuracy"] += float(((out["cls"][t] > 0) == (tb > 0.5)).mean(-1).sum())
                    if truths is not None:
                        sums["l1"] += float(np.abs(out["fake"][t] - truths[t][i:i + batch]).sum(dtype=np.float64))
            n = len(targets) * len(x)
            scores = {"rec_l1": sums["rec_l1"] / (n * x[0].size), "d_cls_accuracy": sums["d_cls_accuracy"] / n}
            if truths is not None:
                scores["l1"] = sums["l1"] / (n * x[0].size)
            return scores

        return evaluate

    # ------------------------------------------------------- --mode sample
    @classmethod
    def write_samples(cls, config: Any, workdir: str, num: int | None = None, *, sample_format: str = "grid",
                      batch_size: int | None = None, step: int | None = None) -> str:
        """`--mode sample`: the first `num` held-out images (config.eval.split)
        as one PNG grid of rows (image, its translations to each target
        domain) in samples/, or those rows as one PNG each in samples/<step>/
        or one .npz of uint8 rows 'x' (other targets: python -m
        jaxgan.translate --target)."""
        from jaxgan import pictures, train

        check_sample_format(sample_format)
        trainer, _, state = train.restore_latest(config, workdir, step)
        num = num or (config.samples.num if sample_format == "grid" else config.eval.num_samples)
        arrays = trainer.held_out(num)
        batch_size = batch_size or config.eval.batch_size
        grid = jax.jit(trainer.sample_grid)
        parts = []
        for i in range(0, len(arrays["image"]), batch_size):
            tiles = np.asarray(grid(state, {k: arrays[k][i:i + batch_size] for k in ("image", "label")}))
            parts.append(pictures.to_uint8(tiles))
        tiles = np.concatenate(parts)
        if sample_format != "grid":  # one image per held-out input: its row of tiles side by side
            n, cols = len(tiles) // trainer.grid_columns, trainer.grid_columns
            tiles = tiles.reshape(n, cols, *tiles.shape[1:]).transpose(0, 2, 1, 3, 4)
            tiles = tiles.reshape(n, tiles.shape[1], cols * tiles.shape[3], tiles.shape[4])
        return write_image_samples(config, workdir, int(state.step), tiles, sample_format, "translation",
                                   trainer.grid_columns)

"""StarGAN's reference networks and training iteration in torch, written
after yunjey/stargan (model.py, solver.py) with its state-dict names, for the
parity tests of jaxgan's StarGAN (networks, trainer, translate)."""

import numpy as np
import torch
import torch.nn.functional as F
import torch_parity

tnn = torch.nn


class ResidualBlock(tnn.Module):
    def __init__(self, dim):
        super().__init__()
        self.main = tnn.Sequential(
            tnn.Conv2d(dim, dim, 3, 1, 1, bias=False), tnn.InstanceNorm2d(dim, affine=True, track_running_stats=True),
            tnn.ReLU(inplace=True),
            tnn.Conv2d(dim, dim, 3, 1, 1, bias=False), tnn.InstanceNorm2d(dim, affine=True, track_running_stats=True))

    def forward(self, x):
        return x + self.main(x)


class Generator(tnn.Module):
    def __init__(self, conv_dim=64, c_dim=5, repeat_num=6, channels=3):
        super().__init__()
        norm = lambda c: tnn.InstanceNorm2d(c, affine=True, track_running_stats=True)
        layers = [tnn.Conv2d(channels + c_dim, conv_dim, 7, 1, 3, bias=False), norm(conv_dim), tnn.ReLU(inplace=True)]
        dim = conv_dim
        for _ in range(2):
            layers += [tnn.Conv2d(dim, dim * 2, 4, 2, 1, bias=False), norm(dim * 2), tnn.ReLU(inplace=True)]
            dim *= 2
        layers += [ResidualBlock(dim) for _ in range(repeat_num)]
        for _ in range(2):
            layers += [tnn.ConvTranspose2d(dim, dim // 2, 4, 2, 1, bias=False), norm(dim // 2), tnn.ReLU(inplace=True)]
            dim //= 2
        layers += [tnn.Conv2d(dim, channels, 7, 1, 3, bias=False), tnn.Tanh()]
        self.main = tnn.Sequential(*layers)

    def forward(self, x, c):
        c = c.view(c.size(0), c.size(1), 1, 1).repeat(1, 1, x.size(2), x.size(3))
        return self.main(torch.cat([x, c], dim=1))


class Discriminator(tnn.Module):
    def __init__(self, image_size=128, conv_dim=64, c_dim=5, repeat_num=6, channels=3):
        super().__init__()
        layers = [tnn.Conv2d(channels, conv_dim, 4, 2, 1), tnn.LeakyReLU(0.01)]
        dim = conv_dim
        for _ in range(1, repeat_num):
            layers += [tnn.Conv2d(dim, dim * 2, 4, 2, 1), tnn.LeakyReLU(0.01)]
            dim *= 2
        self.main = tnn.Sequential(*layers)
        self.conv1 = tnn.Conv2d(dim, 1, 3, 1, 1, bias=False)
        self.conv2 = tnn.Conv2d(dim, c_dim, image_size // 2 ** repeat_num, bias=False)

    def forward(self, x):
        h = self.main(x)
        out_cls = self.conv2(h)
        return self.conv1(h), out_cls.view(out_cls.size(0), out_cls.size(1))


def randomize(module, seed):
    """torch_parity.randomize's conv weights and biases, instance-norm scales
    and biases away from 1 and 0, and running statistics far from theirs at
    init (which translation and training must not use)."""
    torch_parity.randomize(module, seed)
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, tnn.InstanceNorm2d):
                m.weight.normal_(1.0, 0.3, generator=gen)
                m.bias.normal_(0.0, 0.3, generator=gen)
                m.running_mean.normal_(0.0, 2.0, generator=gen)
                m.running_var.uniform_(3.0, 9.0, generator=gen)
                m.num_batches_tracked.fill_(1000)
    return module


HAIR = ["Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair"]


def create_labels(c_org, c_dim, dataset, selected_attrs=None):
    """solver.py's create_labels, on torch tensors ('CelebA': attribute
    vectors; 'RaFD': one-hot domains)."""
    if dataset == "CelebA":
        hair_color_indices = [i for i, name in enumerate(selected_attrs) if name in HAIR]
    c_trg_list = []
    for i in range(c_dim):
        if dataset == "CelebA":
            c_trg = c_org.clone()
            if i in hair_color_indices:
                c_trg[:, i] = 1
                for j in hair_color_indices:
                    if j != i:
                        c_trg[:, j] = 0
            else:
                c_trg[:, i] = (c_trg[:, i] == 0)
        else:
            c_trg = torch.zeros(c_org.size(0), c_dim)
            c_trg[:, i] = 1
        c_trg_list.append(c_trg)
    return c_trg_list


def nchw(x):
    return torch.from_numpy(np.ascontiguousarray(np.asarray(x).transpose(0, 3, 1, 2)))


def reference_iterations(G, D, batches, perms, alphas, lrs, *, kind="attributes", c_dim=5, eps=1e-8,
                         lambda_cls=1.0, lambda_rec=10.0, lambda_gp=10.0):
    """Solver.train's loop body for len(batches) iterations (n_critic of
    them: the last one updates G), with the given target permutations, the
    penalty's alphas and the (g_lr, d_lr) of each iteration; `batches` are
    (NHWC images, labels) as numpy. Returns the losses: the D terms averaged
    over the iterations, G's of the last."""
    g_opt = torch.optim.Adam(G.parameters(), lrs[0][0], (0.5, 0.999), eps=eps)
    d_opt = torch.optim.Adam(D.parameters(), lrs[0][1], (0.5, 0.999), eps=eps)

    def cls_loss(logit, target):
        if kind == "attributes":
            return F.binary_cross_entropy_with_logits(logit, target, reduction="sum") / logit.size(0)
        return F.cross_entropy(logit, target)

    def cond(labels):
        return labels.clone() if kind == "attributes" else F.one_hot(labels, c_dim).float()

    d_sums = {}
    for i, ((x, labels), perm, alpha, (g_lr, d_lr)) in enumerate(zip(batches, perms, alphas, lrs)):
        for opt, lr in ((g_opt, g_lr), (d_opt, d_lr)):
            for group in opt.param_groups:
                group["lr"] = lr
        x_real = nchw(x)
        label_org = torch.from_numpy(np.asarray(labels))
        label_trg = label_org[torch.from_numpy(np.asarray(perm)).long()]
        c_org, c_trg = cond(label_org), cond(label_trg)
        out_src, out_cls = D(x_real)
        terms = {"D_loss_real": -torch.mean(out_src), "D_loss_cls": cls_loss(out_cls, label_org)}
        x_fake = G(x_real, c_trg)
        out_src, _ = D(x_fake.detach())
        terms["D_loss_fake"] = torch.mean(out_src)
        a = torch.from_numpy(np.asarray(alpha).reshape(-1, 1, 1, 1))
        x_hat = (a * x_real.data + (1 - a) * x_fake.data).requires_grad_(True)
        out_src, _ = D(x_hat)
        dydx = torch.autograd.grad(out_src, x_hat, torch.ones_like(out_src), retain_graph=True, create_graph=True)[0]
        norm = torch.sqrt(torch.sum(dydx.view(dydx.size(0), -1) ** 2, dim=1))
        terms["D_loss_gp"] = torch.mean((norm - 1) ** 2)
        d_loss = (terms["D_loss_real"] + terms["D_loss_fake"] + lambda_cls * terms["D_loss_cls"]
                  + lambda_gp * terms["D_loss_gp"])
        g_opt.zero_grad(), d_opt.zero_grad()
        d_loss.backward()
        d_opt.step()
        for k, v in terms.items():
            d_sums[k] = d_sums.get(k, 0.0) + v.item() / len(batches)
        if i == len(batches) - 1:
            x_fake = G(x_real, c_trg)
            out_src, out_cls = D(x_fake)
            g_terms = {"G_loss_fake": -torch.mean(out_src), "G_loss_cls": cls_loss(out_cls, label_trg)}
            g_terms["G_loss_rec"] = torch.mean(torch.abs(x_real - G(x_fake, c_org)))
            g_loss = g_terms["G_loss_fake"] + lambda_rec * g_terms["G_loss_rec"] + lambda_cls * g_terms["G_loss_cls"]
            g_opt.zero_grad(), d_opt.zero_grad()
            g_loss.backward()
            g_opt.step()
    return {**d_sums, **{k: v.item() for k, v in g_terms.items()}}

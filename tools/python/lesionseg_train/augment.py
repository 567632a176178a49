"""Batched, on-device augmentation of image and mask together, and the --aug preset."""

import math

import torch
import torch.nn.functional as F


def apply_aug_preset(args):
    """--aug turns on a good set; any augmentation option set explicitly is kept."""
    if args.aug:
        args.flip = args.rot90 = True
        if args.rot == 0:
            args.rot = 20.0
        if args.zoom_min == 1.0:
            args.zoom_min = 0.6
        if args.zoom_max == 1.0:
            args.zoom_max = 1.3
        if args.aspect == 0:
            args.aspect = 0.15
        if args.shift == 0:
            args.shift = 0.1
        if args.color == 0:
            args.color = 1.0


def describe(args):
    """One-line description for the export metadata ('none' when off)."""
    if not Augment(args, 0).enabled():
        return "none"
    fade = " fade %g p %g" % (args.fade, args.fade_prob) if args.fade > 0 else ""
    return "flip %d rot90 %d rot %g zoom %g-%g aspect %g shift %g color %g%s pad %s" % (
        args.flip, args.rot90, args.rot, args.zoom_min, args.zoom_max, args.aspect,
        args.shift, args.color, fade, args.pad)


def fade_lesions(x, y, amount):
    """Low-contrast lesions: moves each image's lesion (mask @y, [B,1,H,W] in
    {0,1}) towards its mean skin colour by @amount ([B], 0 = unchanged, 1 = skin),
    with a soft edge (the mask blurred over ~4% of the side) so that no outline is
    drawn. @x: [B,3,H,W] floats in [0,255]. The mask stays as it is: the lesion is
    still there, only fainter. A model trained on 28%-area, high-contrast lesions
    over-segments faint ones (validation Dice 0.925 -> 0.874 at half contrast)."""
    k = max(3, int(0.04 * max(y.shape[-2:])) | 1)
    soft = F.avg_pool2d(y, k, stride=1, padding=k // 2, count_include_pad=False)
    soft = F.avg_pool2d(soft, k, stride=1, padding=k // 2, count_include_pad=False)
    outside = 1.0 - y
    n_out = outside.sum((2, 3))
    skin = torch.where(n_out > 0, (x * outside).sum((2, 3)) / n_out.clamp_min(1.0),
                       x.mean((2, 3)))
    f = amount.to(x.device).view(-1, 1, 1, 1)
    return x + f * soft * (skin[:, :, None, None] - x)


def paint_out_lesions(x, y):
    """Each image with its lesion (mask @y, [B,1,H,W] in {0,1}) painted over by
    the skin around it: the skin's colour averaged on a coarse grid (cells with
    no skin take their neighbours'), with the skin's fine texture taken from the
    image turned by 180 degrees. @x: [B,3,H,W] floats in [0,255]. Zooming out
    with this as the padding shows more skin and no mirrored copies of the
    lesion, which reflection padding makes and which real images never have."""
    h, w = x.shape[-2:]
    # grown by 3% of the side: the fuzzy border, and pigment the outline missed
    k = 2 * max(1, int(0.03 * max(h, w))) + 1
    halo = F.max_pool2d(y, k, stride=1, padding=k // 2)
    skin = 1.0 - halo
    gh, gw = max(1, -(-h // 16)), max(1, -(-w // 16))
    num = F.interpolate(x * skin, size=(gh, gw), mode="area")
    den = F.interpolate(skin, size=(gh, gw), mode="area")
    none = den.sum((1, 2, 3)) == 0  # lesion everywhere: the image's mean colour
    if none.any():
        num[none] = x[none].mean((2, 3), keepdim=True).expand(-1, -1, gh, gw)
        den[none] = 1.0
    for _ in range(gh + gw):  # grow the known cells into the lesion's
        known = den > 1e-3
        if known.all():
            break
        nn = F.avg_pool2d(num, 3, stride=1, padding=1, count_include_pad=False)
        dn = F.avg_pool2d(den, 3, stride=1, padding=1, count_include_pad=False)
        num = torch.where(known, num, nn)
        den = torch.where(known.expand_as(den), den, dn)
    fill = (F.interpolate(num, size=(h, w), mode="bilinear", align_corners=False)
            / F.interpolate(den, size=(h, w), mode="bilinear", align_corners=False)
            .clamp_min(1e-6))
    smooth = F.avg_pool2d(x, 5, stride=1, padding=2, count_include_pad=False)
    texture = ((x - smooth) * skin).flip(2, 3)
    soft = F.avg_pool2d(halo, k, stride=1, padding=k // 2, count_include_pad=False)
    return x + soft * (fill + texture - x)


class Augment:
    """Batched, on-device augmentation. Geometry: one affine per image (flips,
    90-degree rotations, small rotations, zoom in/out, aspect and shift), applied with
    grid_sample to image and mask together. Colour: per-channel gain, gamma,
    saturation, offset, blur-free noise. Random numbers come from a CPU generator
    (checkpointed) so runs are reproducible on any device."""

    def __init__(self, args, seed):
        self.a = args
        self.gen = torch.Generator()
        self.gen.manual_seed(seed)

    def enabled(self):
        a = self.a
        return (a.flip or a.rot90 or a.rot > 0 or a.zoom_min != 1 or a.zoom_max != 1
                or a.color > 0 or a.shift > 0 or a.aspect > 0 or a.fade > 0)

    def _u(self, n, lo, hi):
        return torch.rand(n, generator=self.gen) * (hi - lo) + lo

    @staticmethod
    def _warp_skin_padded(x, y, grid):
        """Inside the source the image and mask as they are; outside, the
        reflected image with its lesion painted out, and no lesion."""
        inside = (grid.abs() <= 1).all(-1, keepdim=True).permute(0, 3, 1, 2)
        xy = F.grid_sample(torch.cat([x, y], 1), grid, mode="bilinear",
                           padding_mode="reflection", align_corners=False)
        if inside.all():
            return xy[:, :3], xy[:, 3:]
        out = F.grid_sample(paint_out_lesions(x, y), grid, mode="bilinear",
                            padding_mode="reflection", align_corners=False)
        return torch.where(inside, xy[:, :3], out), xy[:, 3:] * inside

    def __call__(self, img_u8, mask_u8):
        a = self.a
        dev = img_u8.device
        x = img_u8.float()
        y = mask_u8.float()
        b = x.shape[0]
        if not self.enabled():
            return x, y
        # ---- geometry
        ang = torch.zeros(b)
        if a.rot90:
            ang += (torch.randint(0, 4, (b,), generator=self.gen).float() * (math.pi / 2))
        if a.rot > 0:
            ang += self._u(b, -a.rot, a.rot) * (math.pi / 180)
        # zoom z > 1 shows a smaller window (zoom in), z < 1 shows more (zoom out)
        lz = self._u(b, math.log(a.zoom_min), math.log(a.zoom_max))
        z = torch.exp(lz)
        asp = torch.exp(self._u(b, -a.aspect, a.aspect)) if a.aspect > 0 else torch.ones(b)
        sx = 1.0 / (z * asp.sqrt())
        sy = 1.0 / (z / asp.sqrt())
        if a.flip:
            sx = sx * (torch.randint(0, 2, (b,), generator=self.gen).float() * 2 - 1)
            sy = sy * (torch.randint(0, 2, (b,), generator=self.gen).float() * 2 - 1)
        # shift in output-normalised units; more when zoomed out (not so much
        # that, with reflection padding, mirrored copies of the lesion come into
        # the middle; --pad skin has none)
        sh = a.shift * torch.clamp(1.0 / z, min=1.0)
        tx = self._u(b, -1, 1) * sh
        ty = self._u(b, -1, 1) * sh
        c, s = torch.cos(ang), torch.sin(ang)
        theta = torch.stack([torch.stack([c * sx, -s * sy, tx], 1),
                             torch.stack([s * sx, c * sy, ty], 1)], 1).to(dev)
        ident = (ang.abs().sum() == 0 and (sx.abs() - 1).abs().sum() == 0
                 and (sy.abs() - 1).abs().sum() == 0 and tx.abs().sum() == 0
                 and ty.abs().sum() == 0)
        if not ident:
            grid = F.affine_grid(theta, list(x.shape), align_corners=False)
            if a.pad == "skin":
                x, y = self._warp_skin_padded(x, y, grid)
            else:
                xy = F.grid_sample(torch.cat([x, y], 1), grid, mode="bilinear",
                                   padding_mode=a.pad, align_corners=False)
                x, y = xy[:, :3], xy[:, 3:]
            y = (y >= 0.5).float()
        # ---- lesion contrast (random numbers drawn only when on, so that runs
        # without it repeat exactly)
        if a.fade > 0:
            on = (torch.rand(b, generator=self.gen) < a.fade_prob).float()
            x = fade_lesions(x, y, self._u(b, 0, a.fade) * on)
        # ---- colour (on [0,255] floats, before the per-image min-max)
        if a.color > 0:
            k = a.color
            # (min-max afterwards amplifies casts: keep per-channel changes modest)
            gain = torch.exp(self._u(b * 3, -0.1 * k, 0.1 * k)).view(b, 3, 1, 1).to(dev)
            gamma = torch.exp(self._u(b, -0.3 * k, 0.3 * k)).view(b, 1, 1, 1).to(dev)
            sat = torch.exp(self._u(b, -0.3 * k, 0.3 * k)).view(b, 1, 1, 1).to(dev)
            off = self._u(b * 3, -8 * k, 8 * k).view(b, 3, 1, 1).to(dev)
            noise = self._u(b, 0, 5 * k).view(b, 1, 1, 1).to(dev)
            x = (x / 255.0).clamp(0, 1).pow(gamma) * 255.0
            lum = x.mean(1, keepdim=True)
            x = lum + (x - lum) * sat
            x = x * gain + off
            x = x + torch.randn(x.shape, device=dev) * noise
            x = x.clamp(0, 255)
        return x, y

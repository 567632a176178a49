"""The lesionseg trainer behind tools/python/train.py, one job per module.

clock       process start time, which the --time-budget counts from
cli         command line (options, defaults, help text)
folders     --data/--pretrain folder lists and the isic-test refusal
data        decoding ISIC-layout folders into uint8 tensors; the validation split
sampling    each epoch's sample list (with --mix), its shard per rank, batch fetch
preprocess  batched per-image min-max to [0, 255], checked against the reference
augment     batched on-device augmentation and the --aug preset
losses      BCE (+ soft Dice)
ema         exponential moving average of the weights
schedule    warm-up + cosine learning rate
model       building the network; autocast
evaluate    validation Dice
distributed world/rank info and rank-0 logging (torchrun / DDP)
progress    stderr progress bar
checkpoint  last.pt / best.pt writing, loading, RNG states
budget      --fit-budget: shrinking planned epochs to the time left
loop        the epoch/step loop
export      best.pt -> safetensors with metadata
run         main(): wiring all of the above together
"""

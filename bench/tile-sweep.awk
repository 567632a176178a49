# Per GEMM node, the fastest of several per-dispatch profiles
# (core/vulkan/vk-profile.c CSVs, each dispatch timed alone), the first file
# being the plan's own choice: the node's dispatches (GEMM, split-K reduce,
# softmax statistics, im2col) summed per file; its tile (BM x BN x BK, the
# GEMM's specialization constants 1-3) and shape (M x N x K) from its GEMM.
# Prints the nodes where another tile wins, most saved first, and the
# totals. Run with awk -F, (mawk or gawk).
FNR == 1 { f++; next }
$3 == "linear" || $3 == "attn_context" || $3 == "attn_apply" || $3 == "conv_patch" {
  t[$2, f] += $9
  if (!($2 in seen)) {
    seen[$2] = 1; order[++n] = $2
  }
  if (!(($2, f) in spec) && $4 ~ /^(gemm|effattn_context|effattn_apply)/ && $4 != "gemm_reduce") {
    split($10, s, " "); split($11, p, " ")
    spec[$2, f] = s[2] "x" s[3] "x" s[4]
    if (!($2 in shape))
      shape[$2] = p[1] " x " p[2] " x " p[3]
  }
}
END {
  for (i = 1; i <= n; i++) {
    node = order[i]; best = 1
    for (g = 2; g <= f; g++)
      if ((node, g) in t && t[node, g] < t[node, best])
        best = g
    plan += t[node, 1]; fastest += t[node, best]
    if (best != 1)
      printf "%9.1f us saved  %-40s %-20s plan %s %.1f us, run %d (%s) %.1f us\n",
             t[node, 1] - t[node, best], node, shape[node], spec[node, 1], t[node, 1],
             best - 1, spec[node, best], t[node, best] | "sort -rn"
  }
  close("sort -rn")
  printf "GEMM nodes: %.1f us as planned, %.1f us with each node's fastest tile (%d runs)\n",
         plan, fastest, f
}

# Per GEMM node, the fastest of several per-dispatch profiles
# (core/vulkan/vk-profile.c CSVs, each dispatch timed alone), the first file
# being the plan's own choice and the others named *-tileI.csv for the
# runs with tile I forced: the node's dispatches (GEMM, split-K reduce,
# softmax statistics, im2col) summed per file; its tile (BM x BN x BK, the
# GEMM's specialization constants 1-3), kernel and shape (M x N x K) from
# its GEMM. Prints the nodes where another tile wins, most saved first, and
# the totals. With -v tiles_out=FILE, also writes the fastest tile of each
# GEMM shape (the nodes of one shape summed) where it is not the plan's, as
# LS_VULKAN_GEMM_TILES reads it (core/vulkan/vk-tiles.c). Run with awk -F,
# (mawk or gawk).
FNR == 1 {
  f++
  tile[f] = -1
  if (match(FILENAME, /-tile[0-9]+\.csv$/))
    tile[f] = substr(FILENAME, RSTART + 5, RLENGTH - 9) + 0
  next
}
$3 == "linear" || $3 == "attn_context" || $3 == "attn_apply" || $3 == "conv_patch" {
  t[$2, f] += $9
  if (!($2 in seen)) {
    seen[$2] = 1; order[++n] = $2
  }
  if (!(($2, f) in spec) && $4 ~ /^(gemm|effattn_context|effattn_apply)/ && $4 != "gemm_reduce") {
    split($10, s, " "); split($11, p, " ")
    spec[$2, f] = s[2] "x" s[3] "x" s[4]
    if (!($2 in shape)) {
      shape[$2] = p[1] " x " p[2] " x " p[3]
      kernel = $4 ~ /coopmat/ ? "coopmat" : $4 ~ /_reg/ ? "reg" : "tiled"
      key[$2] = kernel " " p[1] " " p[2] " " p[3]
    }
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
    if (node in key) {
      if (!(key[node] in nodes_of)) {
        keys[++nk] = key[node]; first[key[node]] = node
      }
      nodes_of[key[node]]++
      for (g = 1; g <= f; g++)
        if ((node, g) in t) {
          by_shape[key[node], g] += t[node, g]
          runs_of[key[node], g]++
        }
    }
  }
  close("sort -rn")
  printf "GEMM nodes: %.1f us as planned, %.1f us with each node's fastest tile (%d runs)\n",
         plan, fastest, f
  if (tiles_out == "")
    exit
  print "# KERNEL M N K TILE: the fastest tile of each GEMM shape, each dispatch timed alone" > tiles_out
  for (i = 1; i <= nk; i++) {
    k = keys[i]; best = 1
    # only runs that timed every node of the shape, with another tile than
    # the plan's (a forced tile that does not fit runs the plan's)
    for (g = 2; g <= f; g++)
      if (tile[g] >= 0 && runs_of[k, g] == nodes_of[k] && spec[first[k], g] != spec[first[k], 1] \
          && by_shape[k, g] < by_shape[k, best])
        best = g
    if (best != 1) {
      printf "%s %d   # %.1f us, the plan's %.1f us\n", k, tile[best], by_shape[k, best],
             by_shape[k, 1] > tiles_out
      written++
    }
  }
  close(tiles_out)
  printf "%d GEMM shapes with a faster tile than the plan's, written to %s\n", written, tiles_out
}

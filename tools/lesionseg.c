/* lesionseg: command-line front end of liblesionseg.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "commands.h"

static const struct {
  const char *name;
  int (*run) (int argc, char **argv);
  const char *summary;
} commands[] = {
  { "info", ls_cmd_info, "MODEL: configuration, parameters, GFLOP per frame" },
  { "infer", ls_cmd_infer, "--model M IMAGE -o MASK.png: segment one image" },
  { "bench", ls_cmd_bench, "--config full|tiny|MODEL: time the network" },
  { "synth", ls_cmd_synth, "--count N OUTDIR: synthetic dermoscopy with ground truth" },
  { "eval", ls_cmd_eval, "--model M DATASET_DIR: DSC, Jaccard, ... over a data set" },
};

static void
usage (FILE *out)
{
  fprintf (out, "Usage: lesionseg COMMAND [OPTIONS...]\n\nCommands:\n");
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-7s %s\n", commands[i].name, commands[i].summary);
  fprintf (out, "\n'lesionseg COMMAND --help' describes a command's options.\n");
}

int
main (int argc, char **argv)
{
  if (argc < 2) {
    usage (stderr);
    return 2;
  }
  if (!strcmp (argv[1], "--help") || !strcmp (argv[1], "-h") || !strcmp (argv[1], "help")) {
    usage (stdout);
    return 0;
  }
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (!strcmp (argv[1], commands[i].name)) {
      const int status = commands[i].run (argc - 1, argv + 1);
      /* the figures a command prints are its result: losing them (a full
       * disk, a closed pipe) is a failure */
      if (fflush (stdout) != 0 || ferror (stdout)) {
        fprintf (stderr, "lesionseg %s: writing the output failed: %s\n", argv[1],
                 g_strerror (errno));
        return status ? status : 1;
      }
      return status;
    }
  fprintf (stderr, "lesionseg: unknown command '%s'\n\n", argv[1]);
  usage (stderr);
  return 2;
}

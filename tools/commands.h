/* lesionseg CLI: the subcommands the dispatcher in lesionseg.c calls.
 *
 * Each takes the arguments after the subcommand's name (argv[0] is the
 * subcommand) and returns the process exit status.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

int ls_cmd_info  (int argc, char **argv);
int ls_cmd_infer (int argc, char **argv);
int ls_cmd_bench (int argc, char **argv);
int ls_cmd_eval  (int argc, char **argv);
/* lesionseg synth --count N --seed S --size WxH [--jobs J] OUTDIR */
int ls_cmd_synth (int argc, char **argv);

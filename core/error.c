/* The LS_ERROR domain of every GError liblesionseg reports.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "lesionseg.h"

G_DEFINE_QUARK (ls-error-quark, ls_error)

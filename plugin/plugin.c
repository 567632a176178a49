/* The lesionseg GStreamer plugin: registers its elements.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/gst.h>

#include "gstdermsrc.h"
#include "gstlesionseg.h"

static gboolean
plugin_init (GstPlugin *plugin)
{
  gboolean ok = FALSE;
  ok |= GST_ELEMENT_REGISTER (lesionseg, plugin);
  ok |= GST_ELEMENT_REGISTER (dermsrc, plugin);
  return ok;
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, lesionseg,
                   "Skin-lesion segmentation of dermatoscope video",
                   plugin_init, VERSION, "LGPL", PACKAGE, "https://example.invalid/lesionseg")

"""Progress bar on stderr (the epoch lines go to stdout)."""

import sys
import time


class Progress:
    """Plain progress bar on stderr: redrawn in place on a terminal, a line every
    ~30 s otherwise (so that log files stay readable)."""

    def __init__(self, total, label, enabled=True):
        self.total, self.label, self.enabled = max(1, total), label, enabled
        self.tty = sys.stderr.isatty()
        self.t0 = self.last = time.time()
        self.n = 0

    def update(self, n, extra=""):
        self.n = n
        if not self.enabled:
            return
        now = time.time()
        if self.tty:
            if now - self.last < 0.2 and n < self.total:
                return
        elif now - self.last < 30 and n < self.total:
            return
        self.last = now
        frac = n / self.total
        width = 30
        bar = "#" * int(frac * width) + "." * (width - int(frac * width))
        el = now - self.t0
        eta = el / frac - el if frac > 0 else 0
        msg = "%s [%s] %d/%d %4.0fs eta %4.0fs %s" % (self.label, bar, n, self.total, el, eta, extra)
        if self.tty:
            sys.stderr.write("\r" + msg[:150].ljust(150))
            if n >= self.total:
                sys.stderr.write("\n")
        else:
            sys.stderr.write(msg + "\n")
        sys.stderr.flush()

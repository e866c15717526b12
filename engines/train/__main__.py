"""`python -m engines.train RUN_DIR [--resume]`: see engines/train/harness.py."""
import logging
import os
import sys

from engines.train.harness import main

code = main()
if int(os.environ.get("WORLD_SIZE", "1")) > 1:
    # A process of a data-parallel run leaves without the interpreter's and the libraries'
    # teardown: gloo's threads sometimes abort it there ("terminate called without an active
    # exception", seen once in six CI runs after a stop that had saved everything), and the
    # launcher then fails the whole run. By now the events, checkpoints and lock are closed.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
sys.exit(code)

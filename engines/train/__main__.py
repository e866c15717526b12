"""`python -m engines.train RUN_DIR [--resume]`: see engines/train/harness.py."""
import sys

from engines.train.harness import main

sys.exit(main())

import os
import sys

# Quieten TensorFlow's C++ start-up chatter before it is imported anywhere.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from poetry_lm.cli import main  # noqa: E402

sys.exit(main())

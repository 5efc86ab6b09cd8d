import sys

from stylizer.cli import entry

sys.exit(entry())

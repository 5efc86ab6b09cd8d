import sys

from stylizer.cli import main

sys.exit(main())

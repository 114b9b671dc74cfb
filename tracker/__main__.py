import sys

from wattprint.cli.app import main

sys.exit(main())

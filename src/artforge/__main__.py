import sys

from artforge.cli.main import main

sys.exit(main())

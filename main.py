"""LUTLab from a checkout: `python main.py [PHOTO]` opens the editor, `python main.py COMMAND ...` runs a job.

The installed `lutlab` command runs the same function (app.launcher.main).
"""

import sys

from app.launcher import main

if __name__ == "__main__":
    sys.exit(main())

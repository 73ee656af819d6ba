"""`python -m allegiance`"""

from allegiance.cli import main

main()

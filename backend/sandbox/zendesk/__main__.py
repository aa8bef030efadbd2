"""`python -m sandbox.zendesk`: run the Zendesk simulator."""

from sandbox.zendesk.app import main

main()

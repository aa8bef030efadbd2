"""`python -m sandbox.openai_sim`: run the OpenAI-compatible simulator."""

from sandbox.openai_sim.app import main

main()

from psyagents.cli import main

main()

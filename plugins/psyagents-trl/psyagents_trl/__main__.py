"""``python -m psyagents_trl sft|dpo|reward|kto|dpo-iter ...`` - for ``accelerate launch -m psyagents_trl ...``."""

from psyagents_trl.commands import main

if __name__ == "__main__":
    main()

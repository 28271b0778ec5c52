"""What users touch: @parallel, the prelude (the executable specification) and places."""
